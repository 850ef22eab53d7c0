"""Which caller ID each kind of leg presents (PSTN, SIP, client, REFER), read back through the official
twilio client from the simulator, for the caller_id policies `agent` and `caller`.

What Twilio documents, and what these tests hold Handoff and the simulator to:
- <Dial><Number callerId=…>: the child leg's From is the callerId (the call's own To/From or a number
  the account owns; Twilio's 13214 otherwise), its status callbacks say so in From/Caller.
- <Dial><Sip>: the INVITE's From user part is the callerId; X- headers ride in the URI's query.
- <Dial><Client>: Handoff sets no callerId, so Twilio presents the inbound caller's number.
- <Refer>: Twilio creates no leg; the caller's own SIP side calls the target.
- calls.create (warm legs): From must be a Twilio number or a verified caller ID, unless the inbound
  call's CallToken is passed (Twilio's 21210 otherwise).
"""
from __future__ import annotations

import pytest
from twilio.rest import Client

from tests.apps import api_caller, built_app
from tests.conftest import ACCOUNT_SID, AGENT_NUMBER, API_TOKEN, AUTH_TOKEN

LINE, TEAMS_USER, WARM_LINE = "+14155550711", "+14155550712", "+14155550713"
TEAMS_URI = f"sip:{TEAMS_USER}@sbc.example.com;transport=tls"
CALLER = "+14155550714"
RECIPIENTS = f"""
version: 1
timezone: UTC
defaults: {{mode: cold, timeout: 4, human_detection: false, caller_id: agent}}
recipients:
  - name: cid_line
    type: number
    number: "{LINE}"
    description: A desk phone on the PSTN.
  - name: cid_teams
    type: sip
    sip:
      uri: "{TEAMS_URI}"
      headers: {{X-Original-Caller: "<caller>"}}
    description: A Microsoft Teams user behind a Direct Routing SBC.
  - name: cid_console
    type: client
    identity: cid_console
    description: A browser console.
  - name: cid_warm_line
    type: number
    number: "{WARM_LINE}"
    description: A desk that takes warm transfers.
    delivery: {{mode: warm, accept_timeout: 3, whisper: "Call about <reason>."}}
"""
ANSWERS = {"kind": "human", "answer_after": 0.1, "hangup_after": 0.5}
ACCEPTS = {"kind": "human", "answer_after": 0.1, "press": "accept", "press_after": 0.05, "hangup_after": 1.0}


@pytest.fixture(scope="module")
def cid_api(service_env, tmp_path_factory, app, workers):
    """The API of an app routing with this file's recipients, on the session's Redis and workers."""
    path = tmp_path_factory.mktemp("caller_id") / "recipients.yaml"
    path.write_text(RECIPIENTS)
    with built_app(service_env, TRANSFER_CONFIG=str(path)) as flask_app:
        yield api_caller(flask_app, API_TOKEN)


@pytest.fixture(scope="module")
def rest(sim):
    """The official twilio client, pointed at the simulator."""
    client = Client(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = sim.url
    return client


def _transfer(sim, cid_api, caller, body):
    created = cid_api("post", f"/api/calls/{caller}/transfers", json=body)
    assert created.status_code == 202, created.get_json()

    def done():
        t = cid_api("get", f"/api/transfers/{created.get_json()['id']}").get_json()
        return t if t.get("outcome") else None
    return sim.wait_for(done, timeout=20, message="transfer finished")


def _child(rest, caller):
    """The leg a <Dial> created for the caller's call (Twilio's ParentCallSid)."""
    children = rest.calls.list(parent_call_sid=caller)
    assert len(children) == 1, [c.to for c in children]
    return children[0]


def _callback_params(sim, leg_sid):
    """The parameters of the status callbacks Handoff received about a leg."""
    return [e["params"] for e in sim.timeline(leg_sid)
            if e.get("type") == "webhook" and e["params"].get("CallbackSource") == "call-progress-events"]


@pytest.mark.parametrize("policy,expected", [("agent", AGENT_NUMBER), ("caller", CALLER)])
def test_a_cold_pstn_leg_presents_the_policys_number(policy, expected, sim, phone, cid_api, rest):
    sim.add_persona({"address": LINE, **ANSWERS})
    caller = phone(CALLER)
    done = _transfer(sim, cid_api, caller, {"to": "cid_line", "caller_id": policy})
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    leg = _child(rest, caller)
    assert (leg._from, leg.to, leg.direction) == (expected, LINE, "outbound-dial")
    # What Handoff's leg-status webhook was told about the leg, as Twilio reports it.
    params = _callback_params(sim, leg.sid)
    assert params and all(p["From"] == p["Caller"] == expected and p["To"] == p["Called"] == LINE for p in params)


@pytest.mark.parametrize("policy,expected", [("agent", AGENT_NUMBER), ("caller", CALLER)])
def test_a_cold_sip_leg_presents_the_policys_number_and_carries_the_caller_in_a_header(
        policy, expected, sim, phone, cid_api, rest):
    sim.add_persona({"address": TEAMS_URI, **ANSWERS})
    caller = phone(CALLER)
    done = _transfer(sim, cid_api, caller, {"to": "cid_teams", "caller_id": policy})
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    leg = _child(rest, caller)
    # The INVITE's From user part is the caller ID; the Request-URI keeps the Teams user's E.164 and TLS.
    assert leg._from == expected and leg.to == TEAMS_URI
    dialed = next(e for e in sim.timeline(leg.sid) if e.get("type") == "dialed")
    # Whatever the From shows, the original caller's number reaches the SBC in an X- header.
    assert dialed["sip_headers"] == {"X-Original-Caller": CALLER}


@pytest.mark.parametrize("policy", ["agent", "caller"])
def test_a_cold_client_leg_presents_the_callers_number(policy, sim, phone, cid_api, rest):
    sim.add_persona({"address": "client:cid_console", **ANSWERS})
    caller = phone(CALLER)
    done = _transfer(sim, cid_api, caller, {"to": "cid_console", "caller_id": policy})
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    leg = _child(rest, caller)
    # No callerId on a Dial to a client: Twilio passes the inbound caller's number, whatever the policy.
    assert (leg._from, leg.to) == (CALLER, "client:cid_console")
    assert all(p["From"] == CALLER for p in _callback_params(sim, leg.sid))


def test_a_warm_pstn_leg_presents_the_agents_number(sim, phone, cid_api, rest):
    sim.add_persona({"address": WARM_LINE, **ACCEPTS})
    caller = phone(CALLER)
    done = _transfer(sim, cid_api, caller, {"to": "cid_warm_line", "reason": "a refund", "caller_id": "agent"})
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    legs = {e["leg"] for e in done["timeline"] if e.get("leg")}
    (leg,) = [c for c in rest.calls.list(to=WARM_LINE) if c.sid in legs]
    # A leg Handoff creates with calls.create: no parent, From is the number the caller dialed.
    assert (leg._from, leg.direction, leg.parent_call_sid) == (AGENT_NUMBER, "outbound-api", None)


def test_a_warm_pstn_leg_with_the_callers_number_passes_the_call_token(sim, phone, cid_api):
    sim.add_persona({"address": WARM_LINE, **ACCEPTS})
    caller = phone(CALLER)
    done = _transfer(sim, cid_api, caller, {"to": "cid_warm_line", "reason": "a refund", "caller_id": "caller"})
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    created = [r["params"] for r in sim.requests()
               if r["method"] == "POST" and r["path"].endswith("/Calls.json") and r["params"].get("To") == WARM_LINE]
    assert created[-1]["From"] == CALLER and created[-1].get("CallToken")
    # The token can present the caller's number: Handoff keeps it to itself.
    assert "call_token" not in cid_api("get", f"/api/calls/{caller}").get_json()


def test_a_refer_creates_no_twilio_leg_and_hands_the_headers_to_the_callers_sip_side(sim, phone, cid_api, rest):
    sim.add_persona({"address": TEAMS_URI, **ANSWERS})
    caller = phone("sip:alice@customer.example.com", sip=True)
    done = _transfer(sim, cid_api, caller, {"to": "cid_teams", "refer": True, "caller_id": "agent"})
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    # The caller's own SIP side places the new call: no Twilio leg, so no caller ID of Twilio's to present.
    assert rest.calls.list(parent_call_sid=caller) == []
    refer = next(e for e in sim.timeline(caller) if e.get("type") == "refer")
    assert refer["to"].startswith(TEAMS_URI + "?")
    assert "X-Original-Caller=sip%3Aalice%40customer.example.com" in refer["to"]
    assert rest.calls(caller).fetch().status == "completed"


@pytest.mark.parametrize("kind,target", [("number", "cid_line"), ("sip", "cid_teams")])
def test_the_caller_policy_on_a_call_from_a_sip_address_presents_the_agents_number_and_says_why(
        kind, target, sim, phone, cid_api, rest):
    address = LINE if kind == "number" else TEAMS_URI
    sim.add_persona({"address": address, **ANSWERS})
    caller = phone("sip:bob@customer.example.com", sip=True)
    done = _transfer(sim, cid_api, caller, {"to": target, "caller_id": "caller"})
    # A SIP address is no callerId Twilio accepts: the transfer goes ahead with the agent's number.
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    assert _child(rest, caller)._from == AGENT_NUMBER
    assert any("sip:bob@customer.example.com is not a phone number" in r for r in done["routing"]), done["routing"]


def test_a_call_recorded_without_a_call_token_gets_a_warm_leg_from_the_agents_number(sim, phone, cid_api, rest, app):
    sim.add_persona({"address": WARM_LINE, **ACCEPTS})
    caller = phone(CALLER)
    # A call recorded before Handoff kept CallTokens (an upgrade mid-call): its record has none.
    runtime = app.extensions["handoff"]
    assert runtime.redis.hdel(runtime.store.keys.call(caller), "call_token") == 1
    done = _transfer(sim, cid_api, caller, {"to": "cid_warm_line", "reason": "a refund", "caller_id": "caller"})
    # Never a failed attempt for it: the leg presents the agent's number, and the dialing step says why.
    assert done["outcome"] == "transfer-success", done["outcome_detail"]
    events = [e.get("event") for e in done["timeline"]]
    assert "leg-failed" not in events
    dialing = next(e for e in done["timeline"] if e.get("event") == "dialing")
    assert "no CallToken" in dialing["caller_id_fallback"]
    legs = {e["leg"] for e in done["timeline"] if e.get("leg")}
    (leg,) = [c for c in rest.calls.list(to=WARM_LINE) if c.sid in legs]
    assert leg._from == AGENT_NUMBER
