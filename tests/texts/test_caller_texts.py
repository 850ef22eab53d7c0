"""The caller's texts: before the transfer, on success, on failure; from the recipient, the defaults, the
request or the agent's tool; placeholders filled; never on a cancelled transfer."""
from __future__ import annotations

from .conftest import events_of, messages_to

AGENT_NUMBER = "+15005550006"


def _texts(sim, texts_api, transfer_id, caller, count):
    """Wait for `count` text-sent events; returns {purpose: body sent to the caller}."""
    sim.wait_for(lambda: len(events_of(texts_api, transfer_id, "text-sent")) >= count, timeout=15,
                 message=f"{count} texts sent")
    sent = events_of(texts_api, transfer_id, "text-sent")
    bodies = {m["Body"] for m in messages_to(sim, caller)}
    assert all(m["From"] == AGENT_NUMBER for m in messages_to(sim, caller))
    assert len(bodies) == len(sent) == count
    return sent, bodies


def test_recipient_texts_before_and_on_success_with_placeholders_filled(sim, phone, texts_api, finished):
    caller = "+14155550921"
    call = phone(caller)
    response = texts_api("post", f"/api/calls/{call}/transfers",
                         json={"to": "texting_desk", "reason": "a refund", "variables": {"case_id": "C-77"}})
    assert response.status_code == 202, response.get_json()
    transfer = response.get_json()
    assert finished(transfer["id"])["outcome"] == "transfer-success"
    sent, bodies = _texts(sim, texts_api, transfer["id"], caller, 2)
    assert {e["purpose"] for e in sent} == {"before", "success"}
    assert bodies == {"Connecting you to texting desk; your case number is C-77.",
                      "You are now with texting desk. Case C-77."}


def test_defaults_text_the_caller_when_nobody_answers(sim, phone, texts_api, finished):
    caller = "+14155550922"
    call = phone(caller)
    transfer = texts_api("post", f"/api/calls/{call}/transfers",
                         json={"to": "silent_desk", "reason": "a broken router",
                               "variables": {"case_id": "C-78"}}).get_json()
    assert finished(transfer["id"])["outcome"] == "transfer-failed-timeout"
    sent, bodies = _texts(sim, texts_api, transfer["id"], caller, 1)
    assert sent[0]["purpose"] == "failure"
    assert bodies == {"Sorry, nobody could take your call about a broken router. Case C-78."}


def test_the_request_sets_its_own_texts(sim, phone, texts_api, finished):
    caller = "+14155550923"
    call = phone(caller)
    transfer = texts_api("post", f"/api/calls/{call}/transfers", json={
        "to": "quiet_desk", "reason": "billing", "variables": {"plan": "gold"},
        "sms": {"before": "Hold on, <recipient> is next (<reason>, <plan>).", "success": "Connected.",
                "failure": "Not sent: it worked."}}).get_json()
    assert finished(transfer["id"])["outcome"] == "transfer-success"
    sent, bodies = _texts(sim, texts_api, transfer["id"], caller, 2)
    assert bodies == {"Hold on, quiet desk is next (billing, gold).", "Connected."}


def test_the_agents_tool_can_ask_for_a_text_sent_as_written(sim, phone, texts_api, finished):
    # A caller who steers the LLM must not get a variable texted: the tool's words are never filled.
    caller = "+14155550924"
    call = phone(caller)
    texts_api("put", f"/api/calls/{call}/variables", json={"variables": {"internal_score": "credit 312"}})
    tool = texts_api("get", "/api/tools?format=openai").get_json()[0]["function"]
    assert "sms" in tool["parameters"]["properties"] and "sms" not in tool["parameters"]["required"]
    response = texts_api("post", "/api/tools/transfer_call", json={
        "call_sid": call, "destination": "quiet_desk", "reason": "returns",
        "sms": "Your return is being handled by <recipient>. Score: <internal_score>"})
    assert response.status_code == 202, response.get_json()
    transfer_id = response.get_json()["transfer_id"]
    finished(transfer_id)
    sent, bodies = _texts(sim, texts_api, transfer_id, caller, 1)
    assert sent[0]["purpose"] == "before"
    assert bodies == {"Your return is being handled by <recipient>. Score: <internal_score>"}


def test_a_cancelled_transfer_sends_no_failure_text(sim, phone, texts_api, finished):
    caller = "+14155550925"
    call = phone(caller)
    transfer = texts_api("post", f"/api/calls/{call}/transfers", json={
        "to": "silent_desk", "variables": {"case_id": "C-79"}, "sms": {"before": "Connecting you."}}).get_json()
    sim.wait_for(lambda: events_of(texts_api, transfer["id"], "text-sent"), timeout=10, message="before text")
    assert texts_api("post", f"/api/transfers/{transfer['id']}/cancel").status_code in (200, 202)
    assert finished(transfer["id"])["outcome"] == "transfer-cancelled"
    # The outcome's own event is where a failure text would be queued: once it has been handled, and
    # the "before" one delivered, nothing else has come.
    sim.wait_for(lambda: events_of(texts_api, transfer["id"], "text-delivered"), timeout=10, message="delivered")
    assert [m["Body"] for m in messages_to(sim, caller)] == ["Connecting you."]


def test_a_bad_sms_field_is_a_422_naming_it(sim, phone, texts_api):
    call = phone("+14155550926")
    for sms, field in (({"before": ""}, "sms.before"), ({"before": "a\x00b"}, "sms.before"),
                       ({"later": "x"}, "sms.later"), ("text", "sms"), ({"failure": "x" * 1001}, "sms.failure")):
        response = texts_api("post", f"/api/calls/{call}/transfers", json={"to": "quiet_desk", "sms": sms})
        assert response.status_code == 422, (sms, response.get_json())
        named = response.get_json()["error"]["fields"]
        assert any(name == field or name.startswith(field + "._") for name in named), (sms, named)


def test_a_text_with_a_placeholder_nothing_binds_is_recorded_not_sent(sim, phone, texts_api, finished):
    caller = "+14155550929"
    call = phone(caller)
    transfer = texts_api("post", f"/api/calls/{call}/transfers", json={
        "to": "quiet_desk", "reason": "billing",
        "sms": {"before": "Your case is <case_id>.", "success": "Connected about <reason>."}}).get_json()
    assert finished(transfer["id"])["outcome"] == "transfer-success"
    sent, bodies = _texts(sim, texts_api, transfer["id"], caller, 1)
    assert bodies == {"Connected about billing."}
    failed = sim.wait_for(lambda: events_of(texts_api, transfer["id"], "text-failed"), timeout=10,
                          message="the unbound text recorded")
    assert [(e["purpose"], "<case_id>" in e["error"]) for e in failed] == [("before", True)]
    assert not [m for m in messages_to(sim, caller) if "<" in m["Body"]]
