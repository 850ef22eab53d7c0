from pathlib import Path

import pytest

from handoff.destinations import AllowList
from handoff.routing import RoutingError, load_router

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "recipients.yaml"

GOOD = """
recipients:
  - {name: a, type: number, number: "+14155550100"}
"""


def error(write, text):
    path = write(text)
    with pytest.raises(RoutingError) as err:
        load_router(path)
    message = err.value.message
    assert "\n" not in message and str(path) in message
    return err.value


def test_example_file_loads_and_routes():
    router = load_router(EXAMPLE, AllowList.parse("+1,+44"))
    c = router.config
    assert {r.type for r in c.recipients.values()} == {"number", "sip", "client", "agent", "dynamic"}
    assert c.groups and c.rotations and c.rules and c.hours
    for v in ({"intent": "billing", "account_id": "A123456"}, {"language": "es"}, {"vip": "true"},
              {"intent": "outage"}, {"intent": "cancel", "caller": "+14155551234"}, {}):
        router.explain(variables=v)
        router.plan("auto", variables=v)


def test_typo_names_file_entry_and_field(write):
    err = error(write, """
        recipients:
          - {name: a, type: number, number: "+14155550100"}
          - {name: billing, type: number, numbr: "+14155550100"}
    """)
    assert "recipients[1] 'billing'" in err.message and "'numbr'" in err.message
    assert "Unknown field" in err.message


def test_nested_field(write):
    err = error(write, """
        recipients:
          - name: a
            type: number
            number: "+14155550100"
            delivery: {timeout: 0}
    """)
    assert "recipients[0] 'a'" in err.message and "'delivery.timeout'" in err.message
    assert err.field == "recipients[0].delivery.timeout"


@pytest.mark.parametrize("text, words", [
    ('recipients:\n  - {name: a, type: number, number: "+1415"}', ["'number'", "not a valid phone number"]),
    ('recipients:\n  - {name: a, type: fax, number: "+14155550100"}', ["'type'"]),
    ('recipients:\n  - {name: a, type: sip, sip: {uri: "nope"}}', ["'sip'", "SIP URI"]),
    ('recipients:\n  - {name: a, type: sip, sip: {uri: "sip:a@b.com", headers: {Account: x}}}', ["X-"]),
    ('recipients:\n  - {name: a, type: number, number: "+14155550100", fallback: ghost}', ["'fallback'", "'ghost'"]),
    ('recipients:\n  - {name: a, type: number, number: "+14155550100", hours: {timezone: Mars/Base}}',
     ["timezone", "IANA"]),
    ('recipients:\n  - {name: a, type: number, number: "+14155550100", hours: lunch}', ["no hours named 'lunch'"]),
    ('recipients:\n  - {name: a, type: number, number: "+14155550100"}\n  - {name: a, type: client, identity: b}',
     ["recipients[1] 'a'", "already used"]),
    ('recipients:\n  - {name: a, type: dynamic, webhook: {url: "http://x/y", secret: short}}', ["webhook.secret"]),
    (GOOD + 'rules:\n  - {name: r, to: a, when: {intent: {like: x}}}', ["rules[0] 'r'", "unknown test 'like'"]),
    (GOOD + 'rules:\n  - {name: r, to: a, when: {intent: {matches: "("}}}', ["regular expression"]),
    (GOOD + 'rules:\n  - {name: r, to: nobody}', ["rules[0] 'r'", "'to'", "'nobody'"]),
    (GOOD + 'groups:\n  - {name: g, members: [a, zed]}', ["groups[0] 'g'", "'zed'"]),
    (GOOD + 'rotations:\n  - {name: o, timezone: UTC, start: 2026-01-06, handover: "mon 09:00", members: [a]}',
     ["handover", "not a mon"]),
    ("recipients: [", ["not valid YAML"]),
    ("- a", ["mapping"]),
    (GOOD + "colour: blue", ["'colour'"]),
])
def test_errors(write, text, words):
    err = error(write, text)
    for w in words:
        assert w in err.message, err.message


def test_missing_file():
    with pytest.raises(RoutingError, match="cannot read"):
        load_router("/nonexistent/recipients.yaml")


def test_secrets_from_environment_and_masked(write, monkeypatch):
    monkeypatch.setenv("PBX_PW", "hunter22")
    router = load_router(write("""
        recipients:
          - {name: pbx, type: sip, sip: {uri: "sip:q@pbx.example.com", username: u, password: "${PBX_PW}"}}
          - {name: crm, type: dynamic, webhook: {url: "http://127.0.0.1:1/x", secret: "${NOPE:-defaultsecret}"}}
    """))
    assert router.config.recipients["pbx"].sip_password == "hunter22"
    assert router.config.recipients["crm"].webhook.secret == "defaultsecret"
    listed = {r["name"]: r for r in router.recipients()}
    assert listed["pbx"]["sip"]["password"] == "***"
    assert listed["crm"]["webhook"]["secret"] == "***"
    assert "hunter22" not in repr(router.recipients()) and "defaultsecret" not in repr(router.recipients())


def test_listing_has_groups_and_rotations(router):
    listed = {r["name"]: r for r in router.recipients()}
    assert listed["team"]["type"] == "group" and listed["team"]["strategy"] == "parallel"
    assert listed["oncall"]["type"] == "rotation" and listed["oncall"]["on_call"] in ("alice", "bob")
    assert listed["spanish"]["sip"]["password"] == "***"
