"""Callback offers end to end: real transfers through the simulator, real workers, a local event receiver.

Every transfer of this stack has `last_resort: callback` (tests/callbacks/recipients.yaml): when nobody
can take the call, the caller hears "press 1 (or say yes) and we'll call you back".
"""
from __future__ import annotations

import json
import threading

import pytest
from redis.connection import AbstractConnection
from rq import Queue
from rq.registry import StartedJobRegistry
from twilio.request_validator import RequestValidator

from handoff.archive import Archiver
from handoff.callback_urls import CallbackUrls
from handoff.keys import Keys

from ..conftest import ACCOUNT_SID, AUTH_TOKEN
from .conftest import AGENT, SUNDAY_NIGHT

SMS_BODY = "We'll call you back at {caller} about a quote for solar panels (case 4471)."


def _events(cb_api, transfer_id: str, *types: str) -> list[dict]:
    timeline = cb_api("get", f"/api/transfers/{transfer_id}").get_json()["timeline"]
    return [e for e in timeline if e["event"] in types]


def _requests_of(cb_api, transfer_id: str) -> list[dict]:
    return [c for c in cb_api("get", "/api/callbacks").get_json()["items"] if c["transfer_id"] == transfer_id]


def _texts_to(sim, number: str) -> list[dict]:
    """Messages.create requests the simulator got for `number` (their form parameters)."""
    return [r["params"] for r in sim.requests() if r["method"] == "POST" and r["path"].endswith("/Messages.json")
            and r["params"].get("To") == number]


def _ended(sim, caller: str):
    return sim.wait_for(lambda: sim.call(caller)["status"] == "completed", timeout=20, message="caller hung up")


def _heard(sim, caller: str) -> str:
    return " ".join(str(h.get("text") or "") for h in sim.heard(caller))


def _closed_hour_transfer(cb_api, caller: str) -> dict:
    cb_api("put", f"/api/calls/{caller}/variables", json={"variables": {"account": "A-9", "case_id": "0000"}})
    response = cb_api("post", f"/api/calls/{caller}/transfers", json={
        "to": "sales", "at": SUNDAY_NIGHT, "reason": "a quote for solar panels", "variables": {"case_id": "4471"}})
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def test_a_closed_hour_offers_a_callback_the_caller_takes(sim, cb_phone, cb_api, cb_receiver, cb_app):
    number = "+14155550981"
    caller = cb_phone(number, persona={"press": "1"})
    transfer = _closed_hour_transfer(cb_api, caller)
    # Not a 422 with nobody to dial: a transfer that ended at once, and the caller gets the offer.
    assert transfer["status"] == "completed" and transfer["outcome"] == "transfer-failed-timeout"
    assert transfer["outcome_detail"].startswith("nobody can take this call now (") and "closed" in \
        transfer["outcome_detail"]
    transfer_id = transfer["id"]

    _ended(sim, caller)     # pressed 1, heard the thanks, and the call ended
    heard = _heard(sim, caller)
    assert "Press 1 and we'll call you back" in heard and "We will call you back soon" in heard

    [request] = sim.wait_for(lambda: _requests_of(cb_api, transfer_id), timeout=10, message="callback listed")
    assert request["number"] == number and request["digits"] == "1"
    assert request["variables"] == {"account": "A-9", "case_id": "4471"}     # the transfer's over the call's
    assert request["reason"] == "a quote for solar panels" and request["outcome"] == "transfer-failed-timeout"
    assert request["detail"] == transfer["outcome_detail"] and request["called"] == AGENT

    types = [e["event"] for e in cb_api("get", f"/api/transfers/{transfer_id}").get_json()["timeline"]]
    for expected in ("nobody-available", "completed", "caller-returned", "callback-offered", "callback-requested"):
        assert expected in types, (expected, types)

    def delivered():
        return [d for d in cb_receiver.of(transfer_id) if d.envelope["type"] == "callback-requested"
                and d.status == 200]

    [delivery] = sim.wait_for(delivered, timeout=15, message="callback-requested delivered to the receiver")
    assert delivery.signed and delivery.envelope["data"]["number"] == number
    assert delivery.envelope["data"]["variables"]["case_id"] == "4471"

    [text] = sim.wait_for(lambda: _texts_to(sim, number), timeout=10, message="confirmation text")
    assert text["Body"] == SMS_BODY.format(caller=number) and text["From"] == AGENT
    sim.wait_for(lambda: _events(cb_api, transfer_id, "text-sent"), timeout=10, message="text-sent recorded")

    # The Inspector draws a transfer that never dialed anyone, and words its callback steps.
    from blueprints.inspector import _swimlanes

    with cb_app.app_context():
        titles = [row.get("title") for row in _swimlanes(transfer_id)["rows"]]
    assert "Nobody available" in titles and "Callback requested" in titles, titles


def test_everyone_declines_and_a_spoken_yes_takes_the_offer(sim, cb_phone, cb_api, finished):
    number = "+14155550982"
    caller = cb_phone(number, persona={"say": "yes please"})
    response = cb_api("post", f"/api/calls/{caller}/transfers", json={"to": "cb_team", "reason": "billing",
                                                                      "variables": {"case_id": "77"}})
    assert response.status_code == 202, response.get_json()
    transfer_id = response.get_json()["id"]
    done = finished(transfer_id)
    assert done["outcome"] == "transfer-screening-rejected"

    _ended(sim, caller)
    assert "Press 1 or say yes" in _heard(sim, caller)
    [request] = sim.wait_for(lambda: _requests_of(cb_api, transfer_id), timeout=10, message="callback listed")
    assert request["speech"] == "yes please" and request["number"] == number and request["reason"] == "billing"
    [event] = _events(cb_api, transfer_id, "callback-requested")
    assert event["speech"] == "yes please" and 0 < event["confidence"] <= 1
    [text] = sim.wait_for(lambda: _texts_to(sim, number), timeout=10, message="confirmation text")
    assert "case 77" in text["Body"]


def test_a_caller_who_presses_nothing_goes_back_to_the_agent(sim, cb_phone, cb_api, finished):
    caller = cb_phone("+14155550983")
    response = cb_api("post", f"/api/calls/{caller}/transfers", json={"to": "quiet", "reason": "returns"})
    assert response.status_code == 202, response.get_json()
    transfer_id = response.get_json()["id"]
    assert finished(transfer_id)["outcome"] == "transfer-failed-timeout"

    def back_with_agent():
        call = sim.call(caller)
        return call if call["activity"] == "with-agent" and call["agent"]["sessions"] >= 2 else None

    call = sim.wait_for(back_with_agent, timeout=20, message="caller back with the agent")
    assert call["agent"]["parameters"]["transfer_outcome"] == "transfer-failed-timeout"
    assert call["agent"]["parameters"]["transfer_id"] == transfer_id
    assert "we'll call you back" in _heard(sim, caller)
    assert _events(cb_api, transfer_id, "callback-offered")
    assert not _events(cb_api, transfer_id, "callback-requested", "callback-declined")
    assert not _requests_of(cb_api, transfer_id)
    sim.hangup(caller)


@pytest.fixture
def post_action(cb_app, cb_env):
    """POST the offer's action of a transfer as Twilio would (signed); answers (status, body, round trips)."""
    client = cb_app.test_client()
    validator = RequestValidator(AUTH_TOKEN)

    def post(transfer_id: str, caller: str, form: dict, *, text: bool = True, signed: bool = True):
        path = CallbackUrls("").transfer(transfer_id, "callback", caller, s=1 if text else None)
        form = {"AccountSid": ACCOUNT_SID, "CallSid": caller, **form}
        headers = {"X-Twilio-Signature": validator.compute_signature(cb_env["PUBLIC_BASE_URL"] + path, form)
                   if signed else "forged"}
        sends, real, me = [0], AbstractConnection.send_packed_command, threading.get_ident()

        def counting(self, command, check_health=True):
            if threading.get_ident() == me:
                sends[0] += 1
            return real(self, command, check_health)

        AbstractConnection.send_packed_command = counting
        try:
            response = client.post(path, data=form, headers=headers)
        finally:
            AbstractConnection.send_packed_command = real
        return response.status_code, response.get_data(as_text=True), sends[0]

    return post


def _jobs_done(cb_env) -> bool:
    import redis

    connection = redis.Redis.from_url(cb_env["REDIS_URL"])
    try:
        queue = Queue(Keys(cb_env["REDIS_KEY_PREFIX"]).queue_name(), connection=connection)
        return queue.count == 0 and StartedJobRegistry(queue=queue).count == 0
    finally:
        connection.close()


def test_an_action_posted_twice_is_recorded_once(sim, cb_phone, cb_api, post_action, cb_env):
    number = "+14155550984"
    caller = cb_phone(number)               # presses nothing: the test answers for it, twice
    transfer_id = _closed_hour_transfer(cb_api, caller)["id"]
    sim.wait_for(lambda: _events(cb_api, transfer_id, "callback-offered"), timeout=10, message="offer made")

    first = post_action(transfer_id, caller, {"Digits": "1", "From": number, "To": AGENT})
    again = post_action(transfer_id, caller, {"Digits": "1", "From": number, "To": AGENT})
    assert first[0] == again[0] == 200 and first[1] == again[1] and "<Hangup />" in first[1]
    assert first[2] == again[2] == 1          # one Redis round trip each (the record and the text's job)
    sim.wait_for(lambda: _jobs_done(cb_env) and _texts_to(sim, number), timeout=10, message="jobs done")
    assert len(_texts_to(sim, number)) == 1
    assert len(_requests_of(cb_api, transfer_id)) == 1
    assert len(_events(cb_api, transfer_id, "callback-requested")) == 1
    sim.hangup(caller)


def test_a_bad_answer_never_fails(sim, cb_phone, cb_api, post_action):
    number = "+14155550985"
    caller = cb_phone(number)
    transfer_id = _closed_hour_transfer(cb_api, caller)["id"]
    sim.wait_for(lambda: _events(cb_api, transfer_id, "callback-offered"), timeout=10, message="offer made")

    assert post_action(transfer_id, caller, {"Digits": "1"}, signed=False)[0] == 403
    status, body, _ = post_action(transfer_id, caller, {"SpeechResult": "no thanks, yes I'm sure",
                                                        "Confidence": "NaN"}, text=False)
    assert status == 200 and "<Connect" in body           # a no: back to the agent, told the outcome
    assert "transfer-failed-timeout" in body
    hostile = [{"Digits": "99999"}, {"Digits": "#"}, {"Digits": "\x00"}, {"Digits": "x" * 100},
               {"SpeechResult": "é" * 2000, "Confidence": "-3"}, {"SpeechResult": "\ufffe"},
               {"Digits": "", "SpeechResult": ""}, {"Confidence": "1e999"}]
    for form in hostile:
        status, body, _ = post_action(transfer_id, caller, form)
        assert status in (200, 400), (form, status, body)
    status, body, _ = post_action("tr_nothing_here", caller, {"Digits": "1"})
    assert status == 200 and "<Connect" in body           # an unknown transfer: the agent keeps the caller
    [declined] = _events(cb_api, transfer_id, "callback-declined")   # the first answer counts, once
    assert declined["speech"].startswith("no thanks") and not _requests_of(cb_api, transfer_id)
    sim.hangup(caller)


def test_handoff_data_at_a_closed_hour_answers_with_the_offer(sim, cb_phone, cb_api):
    number = "+14155550986"
    caller = cb_phone(number, persona={"press": "1"})
    sim.end_agent_session(caller, handoff_data=json.dumps({"transfer": {"to": "sales", "at": SUNDAY_NIGHT,
                                                                        "reason": "a quote"}}))
    _ended(sim, caller)
    assert "Press 1 and we'll call you back" in _heard(sim, caller)
    [request] = sim.wait_for(lambda: [c for c in cb_api("get", "/api/callbacks").get_json()["items"]
                                      if c["number"] == number], timeout=10, message="callback listed")
    assert request["reason"] == "a quote" and request["outcome"] == "transfer-failed-timeout"
    types = [e["event"] for e in cb_api("get", f"/api/transfers/{request['transfer_id']}").get_json()["timeline"]]
    assert types.count("caller-returned") == 1 and "callback-offered" in types and "callback-requested" in types


def test_no_confirmation_text_without_a_recorded_request(sim, cb_phone, cb_api, cb_app, post_action, cb_env,
                                                         finished):
    # A "1" posted while the transfer still rings is refused (nothing recorded) but its text's job was
    # queued in the same MULTI: the caller must not be told "we'll call you back".
    number = "+14155550987"
    caller = cb_phone(number)
    response = cb_api("post", f"/api/calls/{caller}/transfers", json={"to": "quiet", "reason": "returns"})
    transfer_id = response.get_json()["id"]
    status, _, trips = post_action(transfer_id, caller, {"Digits": "1", "From": number, "To": AGENT})
    assert (status, trips) == (200, 1)
    assert finished(transfer_id)["outcome"] == "transfer-failed-timeout"
    sim.wait_for(lambda: _jobs_done(cb_env) and _events(cb_api, transfer_id, "callback-offered"), timeout=10,
                 message="jobs done")
    assert not _texts_to(sim, number)
    assert not _requests_of(cb_api, transfer_id)
    assert not _events(cb_api, transfer_id, "text-sent", "text-failed")
    # The offer may still be answered: the transfer is not archived under it (callback.lua needs its hash).
    store = cb_app.extensions["handoff"].store
    sim.wait_for(lambda: Archiver(store).fold(transfer_id) == "busy", timeout=10, message="held back")
    sim.hangup(caller)


def test_twilio_refusing_the_offers_redirect_only_delays_it(sim, cb_phone, cb_api):
    """429 on the redirect that plays the offer, past the gateway's own retries: the return deadline's lease
    runs out, the sweeper tries again, and the caller still hears the offer (never left with no document)."""
    number = "+14155550989"
    caller = cb_phone(number, persona={"press": "1"})
    rule = sim.add_fault(target="rest", method="POST", path_contains="/Calls", status=429, code=20429, times=6,
                         call_from=number)
    try:
        transfer = _closed_hour_transfer(cb_api, caller)
        sim.wait_for(lambda: _requests_of(cb_api, transfer["id"]), timeout=45, message="offer taken after the 429s")
        hits = [h for h in sim.faults().get("hits", []) if h.get("rule") == rule.get("id")]
        assert len(hits) >= 5, hits            # more than one gateway call's worth of tries: the lease re-fired
        assert "Press 1 and we'll call you back" in _heard(sim, caller)
    finally:
        sim.clear_faults()
