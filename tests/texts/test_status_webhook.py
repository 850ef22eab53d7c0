"""The SMS status callback: signed like every Twilio webhook, one Redis round trip, each status recorded once."""
from __future__ import annotations

import threading
import uuid

import pytest
from redis.connection import AbstractConnection

from handoff.callback_urls import CallbackUrls
from tests.conftest import ACCOUNT_SID

from .conftest import events_of


@pytest.fixture
def round_trips(monkeypatch):
    """round_trips() -> Redis sends by this thread since the last call (as tests/webhooks_fast counts them)."""
    sends = [0]
    real = AbstractConnection.send_packed_command
    me = threading.get_ident()

    def counting(self, command, check_health=True):
        if threading.get_ident() == me:
            sends[0] += 1
        return real(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)

    def since_last() -> int:
        count, sends[0] = sends[0], 0
        return count

    return since_last


def test_each_status_is_recorded_once_in_one_round_trip(sim, phone, api, client, signer, wait_transfer, round_trips):
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    call = phone("+14155550941")
    transfer = api("post", f"/api/calls/{call}/transfers", json={"to": "billing"}).get_json()
    wait_transfer(transfer["id"])
    path = CallbackUrls("").text_status(transfer["id"], "note", call)
    sid = "SM" + uuid.uuid4().hex
    base = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "MessageSid": sid, "SmsSid": sid,
            "From": "+15005550006", "To": "+14155550941"}

    def post(form, headers=None):
        round_trips()
        status = client.post(path, data=form, headers=signer(path, form) if headers is None else headers).status_code
        return status, round_trips()

    assert post({**base, "MessageStatus": "sent"}) == (204, 0)        # on the way: nothing to record
    assert post({**base, "MessageStatus": "undelivered", "ErrorCode": "30006"}) == (204, 1)
    assert post({**base, "MessageStatus": "undelivered", "ErrorCode": "30006"}) == (204, 1)   # a duplicate
    undelivered = events_of(api, transfer["id"], "text-undelivered")
    assert [(e["sid"], e["code"], e["purpose"]) for e in undelivered] == [(sid, 30006, "note")]
    assert transfer["id"] and api("get", f"/api/transfers/{transfer['id']}").get_json()["outcome"] == "transfer-success"

    forged = {**base, "MessageStatus": "delivered"}
    assert post(forged, headers={"X-Twilio-Signature": "forged"})[0] == 403
    assert post({"AccountSid": ACCOUNT_SID, "MessageStatus": "delivered"})[0] == 400    # no MessageSid
    assert not events_of(api, transfer["id"], "text-delivered")
