"""Each hot webhook makes at most one Redis round trip (a pipeline or a script call is one send)."""
from __future__ import annotations

import uuid

import pytest
from twilio.request_validator import RequestValidator

from handoff.callback_urls import CallbackUrls
from tests.conftest import ACCOUNT_SID, AGENT_NUMBER, AUTH_TOKEN

RECIPIENT = "+14155550388"


@pytest.fixture
def ringing(sim, phone, api, wait_transfer):
    """A cold transfer whose recipient rings (and never answers): (transfer id, caller, leg)."""
    sim.add_persona({"address": RECIPIENT, "kind": "no-answer"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": RECIPIENT, "timeout": 60}).get_json()
    view = wait_transfer(transfer["id"], lambda t: any(e["event"] == "leg-ringing" for e in t["timeline"]))
    leg = next(e["leg"] for e in view["timeline"] if e["event"] == "leg-ringing")
    yield transfer["id"], caller, leg
    sim.hangup(caller)


def test_each_hot_webhook_is_one_round_trip_at_most(client, service_env, ringing, round_trips):
    transfer_id, caller, leg = ringing
    sign = RequestValidator(AUTH_TOKEN).compute_signature

    def post(path: str, form: dict) -> int:
        headers = {"X-Twilio-Signature": sign(service_env["PUBLIC_BASE_URL"] + path, form)}
        round_trips()
        status = client.post(path, data=form, headers=headers).status_code
        assert status in (200, 204), (path, status)
        return round_trips()

    base = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01"}
    leg_form = {**base, "CallSid": leg, "CallStatus": "ringing", "From": AGENT_NUMBER, "To": RECIPIENT,
                "ParentCallSid": caller, "SequenceNumber": "1"}
    url = lambda kind: CallbackUrls("").transfer(transfer_id, kind, caller, attempt=0)
    fresh = "CA" + uuid.uuid4().hex
    counts = {
        "incoming": post("/voice/incoming", {**base, "CallSid": fresh, "From": "+14155550399", "To": AGENT_NUMBER,
                                             "CallStatus": "ringing", "Direction": "inbound"}),
        "status": post("/voice/status", {**base, "CallSid": fresh, "CallStatus": "in-progress"}),
        "dial-status": post(url("dial-status"), leg_form),
        "dial-status again": post(url("dial-status"), leg_form),
        "leg-status": post(url("leg-status"), leg_form),
        "leg-answer": post(url("leg-answer"), {**leg_form, "AnsweredBy": "human"}),
        "conference": post(url("conference"), {**base, "StatusCallbackEvent": "participant-join",
                                               "ConferenceSid": "CF" + "ab" * 16, "CallSid": leg,
                                               "ParticipantLabel": "recipient", "SequenceNumber": "2"}),
        "hold": post(url("hold"), {**base, "CallSid": caller}),
    }
    assert counts["incoming"] == counts["dial-status"] == counts["dial-status again"] == 1, counts
    assert max(counts.values()) == 1, counts
