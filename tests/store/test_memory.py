"""Redis memory per finished transfer: real transfers through the simulator, folded into their archive by
the workers' sweepers (handoff/archive.py), then read back, and called back, as if nothing had happened."""
from __future__ import annotations

import pytest
import requests
from twilio.request_validator import RequestValidator

from bench.memory import measure
from handoff.archive import Archiver
from handoff.store import Store
from tests.apps import wait_until
from tests.conftest import AUTH_TOKEN

LIMIT = 8 * 1024          # bytes a finished transfer may keep for its retention (issue 12)
WARM, BILLING = "+14155550150", "+14155550101"
CONTEXT = {"transcript": [{"role": "caller", "text": "I was charged twice for my October invoice."},
                          {"role": "agent", "text": "I am sorry to hear that. Let me get you to billing."}]}
ABOUT = {"reason": "a disputed invoice", "summary": "Caller was charged twice in October."}
CASES = {
    "cold-accepted": ({"address": BILLING, "kind": "human", "answer_after": 0.1, "hangup_after": 0.4},
                      {"to": "billing", "mode": "cold", **ABOUT, "context": CONTEXT}, "transfer-success"),
    "cold-no-answer": ({"address": BILLING, "kind": "no-answer"},
                       {"to": "billing", "mode": "cold", "timeout": 1}, "transfer-failed-timeout"),
    "warm-accepted": ({"address": WARM, "kind": "human", "answer_after": 0.1, "press": "1", "press_after": 0.05,
                       "hangup_after": 0.5}, {"to": "warm_desk", **ABOUT, "context": CONTEXT}, "transfer-success"),
    "warm-declined": ({"address": WARM, "kind": "human", "answer_after": 0.1, "press": "2", "press_after": 0.05},
                      {"to": "warm_desk", **ABOUT}, "transfer-screening-rejected"),
    "warm-timeout": ({"address": WARM, "kind": "human", "answer_after": 0.1, "press": None},
                     {"to": "warm_desk"}, "transfer-failed-timeout"),
}


def _views(s, transfer_id: str, call_sid: str) -> dict:
    """Everything a user reads about one transfer: the API's views, a listing, its call, the Inspector's."""
    get = (lambda path: s.api("get", path).get_json())
    return {"transfer": get(f"/api/transfers/{transfer_id}"), "events": get(f"/api/transfers/{transfer_id}/events"),
            "context": get(f"/api/transfers/{transfer_id}/context"),
            "listing": get(f"/api/transfers?call_sid={call_sid}")["items"],
            "call": get(f"/api/calls/{call_sid}")["transfers"],
            "calls_listing": [c["transfers"] for c in get(f"/api/calls?call_sid={call_sid}")["items"]],
            "inspector": s.inspector.get(f"/inspector/transfers/{transfer_id}.json").get_json(),
            "inspector_listing": s.inspector.get(f"/inspector/transfers.json?call_sid={call_sid}").get_json()}


@pytest.fixture(scope="module")
def finished(archiving, sim):
    """Each case run to its end; {name: (transfer id, caller, what the readers showed just before the archive)}."""
    done = {}
    for name, (persona, body, outcome) in CASES.items():
        sim.add_persona(persona)
        caller = archiving.phone()
        answer = archiving.api("post", f"/api/calls/{caller}/transfers", json=body)
        assert answer.status_code == 202, answer.get_json()
        transfer_id = answer.get_json()["id"]
        live: dict = {}

        def archived():
            # The last views read while its live keys existed (before and after the reads): the archive
            # comes a quiet second after its last change, so nothing changed between them and the fold.
            if archiving.redis.exists(archiving.keys.transfer(transfer_id)):
                views = _views(archiving, transfer_id, caller)
                if archiving.redis.exists(archiving.keys.transfer(transfer_id)):
                    live["views"] = views
            return archiving.redis.exists(archiving.keys.archive(transfer_id))

        wait_until(archived, timeout=30, message=f"{name}: finished and archived")
        assert live["views"]["transfer"]["outcome"] == outcome, live["views"]["transfer"]
        assert live["views"]["transfer"]["status"] == "completed" and live["views"]["transfer"]["waiting_for"] is None
        done[name] = (transfer_id, caller, live["views"])
    return done


def test_a_finished_transfer_keeps_at_most_8_kb(archiving, finished):
    ids = [transfer_id for transfer_id, _, _ in finished.values()]
    measured = measure(archiving.redis, archiving.keys, ids)
    assert measured["archived"] == len(ids), measured
    for kind in ("transfer", "events", "seen", "legs", "call_active"):
        assert measured["bytes_by_kind"][kind] == 0, (kind, measured)   # working structures are gone
    for name, (transfer_id, _, _) in finished.items():
        one = measure(archiving.redis, archiving.keys, [transfer_id])
        assert one["bytes_per_finished_transfer"] <= LIMIT, (name, one)
    assert measured["bytes_per_finished_transfer"] <= LIMIT, measured


def test_an_archived_transfer_reads_back_the_same(archiving, finished):
    for name, (transfer_id, caller, before) in finished.items():
        after = _views(archiving, transfer_id, caller)
        for view in before:
            assert after[view] == before[view], (name, view)
        assert after["events"] and after["transfer"]["timeline"] == after["events"]


def test_late_callbacks_never_move_an_archived_transfer(archiving, finished, sim):
    """Every webhook Twilio sent about the transfer, sent again after the archive: answered, changing nothing."""
    validator = RequestValidator(AUTH_TOKEN)
    for name, (transfer_id, caller, before) in finished.items():
        archive = archiving.redis.get(archiving.keys.archive(transfer_id))
        legs = {e["leg"] for e in before["events"] if (e.get("leg") or "").startswith("CA")}
        sent = [e for sid in {caller, *legs} for e in sim.timeline(sid)
                if e.get("type") == "webhook" and f"/voice/transfers/{transfer_id}/" in e.get("url", "")]
        assert sent, name
        for e in sent:
            answer = requests.post(e["url"], data=e["params"], timeout=10,
                                   headers={"X-Twilio-Signature": validator.compute_signature(e["url"], e["params"])})
            assert answer.status_code < 400, (name, e["url"], answer.status_code, answer.text[:300])
        assert not archiving.redis.exists(archiving.keys.transfer(transfer_id), archiving.keys.seen(transfer_id),
                                          archiving.keys.legs(transfer_id), archiving.keys.events(transfer_id))
        assert archiving.redis.get(archiving.keys.archive(transfer_id)) == archive, name
        assert _views(archiving, transfer_id, caller)["transfer"] == before["transfer"], name
        # A cancel is refused as for any finished transfer (409), not lost.
        assert archiving.api("post", f"/api/transfers/{transfer_id}/cancel").status_code == 409


def test_an_event_recorded_after_the_archive_joins_its_timeline(archiving, finished):
    transfer_id, caller, before = finished["cold-no-answer"]
    store = Store(archiving.redis, keys=archiving.keys)
    store.append_event(transfer_id, caller, {"event": "voicemail-recorded", "recording_url": "https://example.com/r"})
    events = archiving.api("get", f"/api/transfers/{transfer_id}/events").get_json()
    assert events[:-1] == before["events"] and events[-1]["event"] == "voicemail-recorded"
    assert events[-1]["transfer_id"] == transfer_id and events[-1]["call_sid"] == caller
    after = archiving.api("get", f"/api/transfers/{transfer_id}/events?after={before['events'][-1]['id']}").get_json()
    assert [e["event"] for e in after] == ["voicemail-recorded"]
    assert archiving.api("get", f"/api/transfers/{transfer_id}").get_json()["timeline"] == events


def test_a_transfer_in_flight_is_never_archived(archiving, sim):
    sim.add_persona({"address": "+14155550198", "kind": "no-answer"})
    caller = archiving.phone()
    transfer = archiving.api("post", f"/api/calls/{caller}/transfers",
                             json={"to": "+14155550198", "mode": "warm", "timeout": 30}).get_json()
    wait_until(lambda: archiving.api("get", f"/api/transfers/{transfer['id']}").get_json()["status"] == "ringing",
               timeout=15, message="ringing")
    assert archiving.redis.zscore(archiving.keys.archives(), transfer["id"]) is None    # not settled: not due
    before = archiving.redis.hgetall(archiving.keys.transfer(transfer["id"]))
    assert Archiver(Store(archiving.redis, keys=archiving.keys)).fold(transfer["id"]) == "unsettled"
    assert archiving.redis.hgetall(archiving.keys.transfer(transfer["id"])) == before
    assert not archiving.redis.exists(archiving.keys.archive(transfer["id"]))
    assert archiving.api("post", f"/api/transfers/{transfer['id']}/cancel").status_code == 200
    wait_until(lambda: archiving.redis.exists(archiving.keys.archive(transfer["id"])), timeout=30,
               message="the cancelled transfer archived once settled")
    assert archiving.api("get", f"/api/transfers/{transfer['id']}").get_json()["outcome"] == "transfer-cancelled"
