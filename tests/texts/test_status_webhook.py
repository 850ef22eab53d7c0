"""The SMS status callback: signed like every Twilio webhook, one Redis round trip, each status recorded once."""
from __future__ import annotations

import time
import uuid

from rq.registry import StartedJobRegistry

from handoff.archive import Archiver
from handoff.callback_urls import CallbackUrls
from tests.conftest import ACCOUNT_SID

from .conftest import events_of, messages_to


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


def test_an_unknown_or_archived_transfers_status_records_nothing(sim, phone, api, app, client, signer, queue,
                                                                 wait_transfer, round_trips):
    store = app.extensions["handoff"].store
    keys = store.keys
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    caller = "+14155550942"
    call = phone(caller)
    transfer_id = api("post", f"/api/calls/{call}/transfers", json={"to": "billing"}).get_json()["id"]
    wait_transfer(transfer_id)
    queue.enqueue_call("workers.jobs.send_text", args=(transfer_id, "note", None, "Your case is 42."))
    sim.wait_for(lambda: events_of(api, transfer_id, "text-delivered"), timeout=10, message="text delivered")

    def post(transfer: str, sid: str):
        path = CallbackUrls("").text_status(transfer, "note", call)
        form = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "MessageSid": sid, "SmsSid": sid,
                "From": "+15005550006", "To": caller, "MessageStatus": "delivered"}
        round_trips()
        return client.post(path, data=form, headers=signer(path, form)).status_code, round_trips()

    unknown = "tr_" + uuid.uuid4().hex[:24]
    assert post(unknown, "SM" + uuid.uuid4().hex) == (204, 1)
    assert not store.redis.exists(keys.events(unknown), keys.texts(unknown))

    # Archived: its texts hash went with it, a late status writes nothing and a late job sends nothing.
    archiver = Archiver(store)
    sim.wait_for(lambda: archiver.fold(transfer_id) == "archived", timeout=15, message="archived")
    assert not store.redis.exists(keys.transfer(transfer_id), keys.events(transfer_id), keys.texts(transfer_id))
    timeline = api("get", f"/api/transfers/{transfer_id}").get_json()["timeline"]
    assert post(transfer_id, "SM" + uuid.uuid4().hex) == (204, 1)
    queue.enqueue_call("workers.jobs.send_text", args=(transfer_id, "note", None, "Your case is 42."))
    sim.wait_for(lambda: queue.count == 0 and StartedJobRegistry(queue=queue).count == 0, timeout=10,
                 message="job run")
    assert not store.redis.exists(keys.events(transfer_id), keys.texts(transfer_id))
    assert api("get", f"/api/transfers/{transfer_id}").get_json()["timeline"] == timeline
    assert len(messages_to(sim, caller)) == 1


def test_a_text_on_its_way_holds_the_archive_back(sim, phone, api, app, wait_transfer):
    store = app.extensions["handoff"].store
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    call = phone("+14155550943")
    transfer_id = api("post", f"/api/calls/{call}/transfers", json={"to": "billing"}).get_json()["id"]
    wait_transfer(transfer_id)
    # What Texts.send leaves while Twilio has not answered yet: the purpose claimed, its send not ended.
    store.redis.hset(store.keys.texts(transfer_id), "claim:note", f"{time.time():.3f}")
    sim.wait_for(lambda: Archiver(store).fold(transfer_id) == "busy", timeout=15, message="settled, held back")
    store.redis.hset(store.keys.texts(transfer_id), "sent:note", "SM" + uuid.uuid4().hex)
    sim.wait_for(lambda: Archiver(store).fold(transfer_id) == "archived", timeout=15, message="archived")
