"""A text Twilio refuses (21610 unsubscribed, 21408, 21614) or cannot deliver (30006 landline) is recorded
on the transfer, and the transfer goes on as if nothing happened; a caller without a phone number gets none."""
from __future__ import annotations

import pytest

from .conftest import events_of, messages_to

SMS = {"before": "Connecting you to <recipient>.", "success": "You are connected."}


@pytest.mark.parametrize("behaviour, code", [("unsubscribed", 21610), ("region-not-enabled", 21408),
                                             ("not-mobile", 21614)])
def test_a_refused_text_is_recorded_and_the_transfer_still_succeeds(sim, phone, texts_api, finished, behaviour, code):
    caller = {"unsubscribed": "+14155550931", "region-not-enabled": "+14155550932", "not-mobile": "+14155550933"}[behaviour]
    call = phone(caller, persona={"sms": behaviour})
    transfer = texts_api("post", f"/api/calls/{call}/transfers", json={"to": "quiet_desk", "sms": SMS}).get_json()
    assert finished(transfer["id"])["outcome"] == "transfer-success"
    failed = sim.wait_for(lambda: len(events_of(texts_api, transfer["id"], "text-failed")) == 2 and
                          events_of(texts_api, transfer["id"], "text-failed"), timeout=15, message="both refused")
    assert {e["purpose"] for e in failed} == {"before", "success"}
    assert all(e["code"] == code and e["to"] == caller for e in failed)
    assert not events_of(texts_api, transfer["id"], "text-sent")
    # Refused at create, never retried: Twilio was asked once per text.
    assert len(messages_to(sim, caller)) == 2
    body = texts_api("get", f"/api/transfers/{transfer['id']}").get_json()
    assert body["outcome"] == "transfer-success" and body["status"] in ("bridged", "completed")


def test_a_landline_accepts_then_reports_undelivered_30006(sim, phone, texts_api, finished):
    caller = "+14155550934"
    call = phone(caller, persona={"sms": "landline"})
    transfer = texts_api("post", f"/api/calls/{call}/transfers", json={"to": "silent_desk",
                                                                        "variables": {"case_id": "C-80"}}).get_json()
    assert finished(transfer["id"])["outcome"] == "transfer-failed-timeout"
    undelivered = sim.wait_for(lambda: events_of(texts_api, transfer["id"], "text-undelivered"), timeout=15,
                               message="undelivered")
    sent = events_of(texts_api, transfer["id"], "text-sent")
    assert len(sent) == 1 and sent[0]["purpose"] == "failure"
    assert len(undelivered) == 1
    assert undelivered[0]["sid"] == sent[0]["sid"] and undelivered[0]["code"] == 30006
    assert undelivered[0]["purpose"] == "failure"
    assert not events_of(texts_api, transfer["id"], "text-delivered")
    assert texts_api("get", f"/api/transfers/{transfer['id']}").get_json()["outcome"] == "transfer-failed-timeout"


def test_a_sip_caller_gets_no_text_and_the_transfer_records_why(sim, phone, texts_api, finished):
    call = phone("sip:alice@customer.example.com", sip=True)
    transfer = texts_api("post", f"/api/calls/{call}/transfers", json={"to": "quiet_desk", "sms": SMS}).get_json()
    assert finished(transfer["id"])["outcome"] == "transfer-success"
    failed = sim.wait_for(lambda: len(events_of(texts_api, transfer["id"], "text-failed")) == 2 and
                          events_of(texts_api, transfer["id"], "text-failed"), timeout=15, message="both failed")
    assert all("not a phone number" in e["error"] and e.get("code") is None for e in failed)
    assert not messages_to(sim, "sip:alice@customer.example.com")
