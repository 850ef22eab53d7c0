import textwrap
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handoff.destinations import AllowList
from handoff.routing import load_router

NY = ZoneInfo("America/New_York")

BASE = """
version: 1
timezone: America/New_York
variables:
  company: Acme
  region: west
hours:
  office:
    weekly:
      - {days: mon-fri, from: "09:00", to: "17:00"}
    closed:
      - {date: 2026-12-25, reason: Christmas}
recipients:
  - name: billing
    type: number
    number: "+14155550100"
    description: Billing team.
    hours: office
    delivery: {mode: warm, retries: 2, retry_interval: 3, whisper: "Billing: <account_id> <reason>",
               summary_prompt: "Summarise for <company>", timeout: 15, last_resort: voicemail}
    fallback: voicemail
  - name: voicemail
    type: number
    number: "+14155550199"
    description: Voicemail.
  - name: desk
    type: number
    number: "+14155550111"
    extension: "<ext>"
    variables: {ext: "42"}
  - name: spanish
    type: sip
    sip:
      uri: "sip:<queue>@pbx.example.com"
      headers: {X-Account: "<account_id>"}
      username: u
      password: s3cret
    languages: [es]
  - name: console
    type: client
    identity: supervisor
  - name: bot
    type: agent
    url: wss://agents.example.com/retention
    description: Retention bot.
  - name: templated
    type: number
    number: "+1628555<line>"
    allowed_prefixes: ["+1628555"]
  - name: alice
    type: number
    number: "+14155550121"
  - name: bob
    type: number
    number: "+14155550122"
groups:
  - name: team
    strategy: parallel
    members: [alice, bob]
    delivery: {timeout: 25}
  - name: chain
    strategy: sequential
    members: [alice, bob]
    fallback: voicemail
rotations:
  - name: oncall
    timezone: America/New_York
    start: 2026-01-05
    handover: "mon 09:00"
    members: [alice, bob]
    overrides:
      - {date: 2026-03-11, member: bob, reason: swap}
rules:
  - name: vip
    when: {vip: true}
    to: team
  - name: es
    when: {language: {in: [es, es-MX]}}
    to: spanish
  - name: acct
    when: {account_id: {matches: "A[0-9]{3}"}, intent: billing}
    to: billing
    hours: office
    fallback: voicemail
  - name: uk
    when: {caller_country: GB}
    to: console
  - name: night
    during:
      weekly: [{days: daily, from: "22:00", to: "06:00"}]
    to: oncall
fallback: chain
"""


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture
def write(tmp_path):
    def _write(text: str, name: str = "recipients.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path
    return _write


@pytest.fixture
def router(write):
    return load_router(write(BASE), AllowList.parse("+1,+44"))


MONDAY_10 = ny(2026, 3, 9, 10, 0)   # office open
