"""End to end through the simulator: "to": "auto" follows the rules to the right person."""
from __future__ import annotations

import json

import pytest


def _bridged(sim, caller: str) -> dict:
    sid = sim.wait_for(lambda: sim.call(caller)["bridged_with"], timeout=8, message="caller bridged")
    return sim.call(sid)


@pytest.mark.parametrize("variables,number", [
    ({"intent": "billing"}, "+14155550701"),
    ({"language": "es"}, "+14155550702"),
])
def test_auto_with_request_variables_dials_the_rules_recipient(sim, phone, rapi, wait_transfer, variables, number):
    sim.add_persona({"address": number, "kind": "human", "answer_after": 0.1, "hangup_after": 0.4})
    caller = phone("+14155550793")
    response = rapi("post", f"/api/calls/{caller}/transfers", json={"to": "auto", "variables": variables})
    assert response.status_code == 202, response.get_json()
    transfer = response.get_json()
    assert transfer["to"] == "auto"
    assert any("matched" in reason for reason in transfer["routing"])
    leg = _bridged(sim, caller)
    assert leg["to"] == number
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-success"
    events = [e["event"] for e in done["timeline"]]
    assert events[0] == "requested" and "dialing" in events and "bridged" in events
    # the only destination the service sent to Twilio about this call is the rule's recipient
    sent = json.dumps([r for r in sim.requests() if caller in r.get("path", "")])
    assert number in sent
    others = {"+14155550701", "+14155550702", "+14155550703"} - {number}
    assert not [n for n in others if n in sent]


def test_auto_with_the_calls_variables_through_the_tool(sim, phone, rapi, wait_transfer):
    sim.add_persona({"address": "+14155550702", "kind": "human", "answer_after": 0.1, "hangup_after": 0.4})
    caller = phone("+14155550794")
    rapi("put", f"/api/calls/{caller}/variables", json={"variables": {"language": "es-MX"}})
    response = rapi("post", "/api/tools/transfer_call", json={"call_sid": caller, "destination": "auto",
                                                               "reason": "Prefers Spanish"})
    assert response.status_code == 202, response.get_json()
    assert _bridged(sim, caller)["to"] == "+14155550702"
    done = wait_transfer(response.get_json()["transfer_id"])
    assert done["outcome"] == "transfer-success"
    assert any("rule 'spanish' matched" in reason for reason in done["routing"])
