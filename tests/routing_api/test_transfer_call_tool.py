"""POST /api/tools/transfer_call, PUT /api/calls/{sid}/variables and placeholders bound from them."""
from __future__ import annotations

import json

import pytest

UNKNOWN_CALL = "CA" + "0" * 32


def _bridged_to(sim, caller: str) -> dict:
    sim.wait_for(lambda: sim.call(caller)["bridged_with"], timeout=8, message="caller bridged")
    return sim.call(sim.call(caller)["bridged_with"])


def test_tool_call_starts_the_transfer_and_answers_a_sentence(sim, phone, rapi, api, wait_transfer):
    sim.add_persona({"address": "+14155550701", "kind": "human", "answer_after": 0.1, "hangup_after": 0.4})
    caller = phone("+14155550782")
    response = rapi("post", "/api/tools/transfer_call",
                    json={"call_sid": caller, "destination": "ra_billing", "reason": "Refund for order 12",
                          "summary": "Caller was charged twice."})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["ok"] is True and body["transfer_id"].startswith("tr_")
    assert "ra_billing" in body["result"] and body["result"].endswith(".")
    assert _bridged_to(sim, caller)["to"] == "+14155550701"
    done = wait_transfer(body["transfer_id"])
    assert done["outcome"] == "transfer-success" and done["reason"] == "Refund for order 12"
    assert done["timeline"][0]["event"] == "requested" and done["timeline"][0]["via"] == "tool"


@pytest.mark.parametrize("wrap", ["openai-string", "openai-object", "anthropic"])
def test_tool_call_accepts_platform_wrappers(sim, phone, rapi, wait_transfer, wrap):
    sim.add_persona({"address": "+14155550702", "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    caller = phone("+14155550783")
    args = {"destination": "ra_spanish", "reason": "Habla español"}
    body = {"openai-string": {"call_sid": caller, "arguments": json.dumps(args)},
            "openai-object": {"call_sid": caller, "arguments": args},
            "anthropic": {"call_sid": caller, "input": args}}[wrap]
    response = rapi("post", "/api/tools/transfer_call", json=body)
    assert response.status_code == 202, response.get_json()
    wait_transfer(response.get_json()["transfer_id"])


@pytest.mark.parametrize("destination", ["nobody", "ra_hidden", "+14155550704", "+15005550006"])
def test_unknown_hidden_or_raw_destinations_are_refused_with_a_sentence(phone, rapi, api, destination):
    caller = phone("+14155550784")
    response = rapi("post", "/api/tools/transfer_call",
                    json={"call_sid": caller, "destination": destination, "reason": "x"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["ok"] is False and body["error"]["code"] == "transfer_refused" and body["field"] == "destination"
    assert set(body["error"]["fields"]) == {"destination"}      # the one error shape, plus the sentence
    assert body["result"].startswith("I can't transfer the call to")
    assert "Choose one of: auto, billing" in body["result"]
    assert api("get", f"/api/calls/{caller}").get_json()["transfers"] == []   # nothing was dialed


def test_unknown_call_is_404_with_a_sentence(rapi):
    response = rapi("post", "/api/tools/transfer_call",
                    json={"call_sid": UNKNOWN_CALL, "destination": "ra_billing", "reason": "x"})
    assert response.status_code == 404
    body = response.get_json()
    assert body["ok"] is False and body["error"]["code"] == "not_found" and "can't find this call" in body["result"]


def test_missing_arguments_are_422_with_a_sentence(rapi):
    response = rapi("post", "/api/tools/transfer_call", json={"destination": "ra_billing"})
    assert response.status_code == 422
    assert response.get_json()["field"] == "call_sid"
    response = rapi("post", "/api/tools/transfer_call", json={"call_sid": UNKNOWN_CALL})
    body = response.get_json()
    assert response.status_code == 422 and body["field"] == "destination" and "destination" in body["result"]
    response = rapi("post", "/api/tools/transfer_call", data="[1, 2]", content_type="application/json")
    assert response.status_code == 422 and response.get_json()["ok"] is False


def test_tool_needs_the_bearer_token(routing_app):
    response = routing_app.test_client().post("/api/tools/transfer_call", json={})
    assert response.status_code == 401


def test_second_transfer_in_flight_is_409_with_a_sentence(sim, phone, rapi, api, wait_transfer):
    sim.add_persona({"address": "+14155550703", "kind": "no-answer"})
    caller = phone("+14155550785")
    # ra_front has office hours: ask for the rule-free recipient behind a no-answer persona instead
    first = rapi("post", "/api/tools/transfer_call",
                 json={"call_sid": caller, "destination": "ra_pbx", "reason": "x"})
    assert first.status_code == 422 and first.get_json()["field"] == "variables.account_id"
    sim.add_persona({"address": "+14155550701", "kind": "no-answer"})
    first = rapi("post", "/api/tools/transfer_call", json={"call_sid": caller, "destination": "ra_billing",
                                                            "reason": "x"})
    assert first.status_code == 202
    transfer_id = first.get_json()["transfer_id"]
    second = rapi("post", "/api/tools/transfer_call", json={"call_sid": caller, "destination": "ra_spanish",
                                                             "reason": "y"})
    assert second.status_code == 409
    body = second.get_json()
    assert body["ok"] is False and body["error"]["code"] == "transfer_in_progress"
    assert body["transfer_id"] == transfer_id and "already in progress" in body["result"]
    api("post", f"/api/transfers/{transfer_id}/cancel")
    done = wait_transfer(transfer_id)
    assert done["outcome"] == "transfer-cancelled"


def test_put_variables_then_transfer_to_a_templated_number(sim, phone, rapi, api, wait_transfer):
    sim.add_persona({"address": "+14155550705", "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    caller = phone("+14155550786")
    # unbound first: a 422 naming the variable, never a dial
    refused = rapi("post", f"/api/calls/{caller}/transfers", json={"to": "ra_line"})
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert set(error["fields"]) == {"variables.line"} and "<line>" in error["message"]
    tool = rapi("post", "/api/tools/transfer_call", json={"call_sid": caller, "destination": "ra_line",
                                                           "reason": "direct line"})
    assert tool.status_code == 422 and tool.get_json()["field"] == "variables.line"
    assert "<line>" in tool.get_json()["result"]
    assert api("get", f"/api/calls/{caller}").get_json()["transfers"] == []
    # then the call's variables bind it
    put = rapi("put", f"/api/calls/{caller}/variables", json={"variables": {"line": "0705", "vip": True}})
    assert put.status_code == 200
    assert put.get_json() == {"call_sid": caller, "variables": {"line": "0705", "vip": "true"}}
    response = rapi("post", "/api/tools/transfer_call", json={"call_sid": caller, "destination": "ra_line",
                                                               "reason": "direct line"})
    assert response.status_code == 202, response.get_json()
    assert _bridged_to(sim, caller)["to"] == "+14155550705"
    assert wait_transfer(response.get_json()["transfer_id"])["outcome"] == "transfer-success"


def test_unsafe_variable_values_are_refused(phone, rapi):
    caller = phone("+14155550787")
    rapi("put", f"/api/calls/{caller}/variables", json={"variables": {"line": "07;5"}})
    response = rapi("post", f"/api/calls/{caller}/transfers", json={"to": "ra_line"})
    assert response.status_code == 422 and "variables.line" in response.get_json()["error"]["fields"]


def test_a_templated_number_that_is_not_a_valid_number_is_refused(phone, rapi):
    caller = phone("+14155550788")
    response = rapi("post", f"/api/calls/{caller}/transfers", json={"to": "ra_line",
                                                                      "variables": {"line": "1"}})
    assert response.status_code == 422 and "variables.line" in response.get_json()["error"]["fields"]


def test_a_templated_number_off_the_allow_list_is_refused(phone, rapi, api):
    caller = phone("+14155550790")
    response = rapi("post", f"/api/calls/{caller}/transfers", json={"to": "ra_area", "variables": {"area": "628"}})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert set(error["fields"]) == {"variables.area"} and "TRANSFER_ALLOWED_PREFIXES" in error["message"]
    assert api("get", f"/api/calls/{caller}").get_json()["transfers"] == []
    explained = rapi("post", "/api/routing/explain", json={"to": "ra_area", "variables": {"area": "415"}}).get_json()
    assert explained["ok"] and explained["steps"][0]["targets"][0]["address"] == "+14155550706"


def test_put_variables_validation(phone, rapi):
    caller = phone("+14155550789")
    assert rapi("put", f"/api/calls/{UNKNOWN_CALL}/variables",
                json={"variables": {"a": "b"}}).status_code == 404
    assert rapi("put", f"/api/calls/{caller}/variables", json={"variables": {"bad name": "b"}}).status_code == 422
    assert rapi("put", f"/api/calls/{caller}/variables", json={"variables": {"a": None}}).status_code == 422
    assert rapi("put", f"/api/calls/{caller}/variables", json={}).status_code == 422
