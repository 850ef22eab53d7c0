"""The event stream: each lifecycle event written once, with Twilio's evidence, to the transfer and the feed."""
import redis

from handoff.events import EventLog
from handoff.keys import Keys

WARM = "+14155550150"


def _log(service_env) -> EventLog:
    return EventLog(redis.Redis.from_url(service_env["REDIS_URL"]), Keys(service_env["REDIS_KEY_PREFIX"]))


def test_a_warm_transfer_tells_its_story_once_in_order(sim, phone, api, wait_transfer, service_env):
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.3, "press": "1", "press_after": 0.05})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk", "reason": "a refund"}).get_json()
    done = wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success")
    log = _log(service_env)
    # The durable record and the API's timeline are the same events (more may have come since).
    mine = log.history(transfer["id"])
    assert [e.id for e in mine][:len(done["timeline"])] == [e["id"] for e in done["timeline"]]
    names = [e.type for e in mine]
    for expected in ("requested", "caller-on-hold", "dialing", "leg-dialed", "leg-ringing", "leg-answered", "detection",
                     "whisper-started", "key-pressed", "bridged", "outcome"):
        assert expected in names, (expected, names)
    assert names.index("leg-ringing") < names.index("whisper-started") < names.index("key-pressed") \
        < names.index("outcome")
    assert names.count("outcome") == 1 and len({e.id for e in mine}) == len(mine)
    # Evidence and detail: who answered, what they heard, the key, the outcome's figures.
    by_type = {e.type: e for e in mine}
    assert by_type["detection"].detail["answered_by"] == "human" and by_type["detection"].leg
    assert "a refund" in by_type["whisper-started"].detail["whisper"]
    assert by_type["key-pressed"].detail["digits"] == "1"
    completed = by_type["outcome"].to_dict()
    assert completed["outcome"] == "transfer-success" and completed["mode"] == "warm"
    assert completed["destination"] == "warm_desk" and completed["attempts"] == 1
    assert completed["answer_seconds"] >= 0.3 and completed["hold_seconds"] >= completed["accept_seconds"] > 0
    assert all(e.transfer_id == transfer["id"] and e.call_sid == caller and e.at for e in mine)
    # Every one of them is in the feed under the same id (the one place every consumer reads).
    feed = [e.id for e in log.feed(after="0-0", count=100000) if e.transfer_id == transfer["id"]]
    assert feed[:len(mine)] == [e.id for e in mine]


def test_a_failed_attempt_says_why_and_the_fallback_it_took(sim, phone, api, wait_transfer, service_env):
    sim.add_persona({"address": "+14155550151", "kind": "human", "answer_after": 0.1, "press": "2",
                     "press_after": 0.05})
    sim.add_persona({"address": "+14155550152", "kind": "human", "answer_after": 0.1, "press": "1",
                     "press_after": 0.05})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_first"}).get_json()
    done = wait_transfer(transfer["id"], lambda t: t["outcome"])
    events = _log(service_env).history(transfer["id"])
    # warm_first is tried twice (one retry), each time declined, then its fallback warm_backup accepts.
    failed = [e for e in events if e.type == "attempt-failed"]
    assert [e.attempt for e in failed] == [0, 1]
    assert {e.detail["outcome"] for e in failed} == {"transfer-screening-rejected"}
    assert {e.detail["reason"] for e in failed} == {"declined"} and {e.detail["result"] for e in failed} == {"declined"}
    fallbacks = [e for e in events if e.type == "fallback-taken"]
    assert [(e.attempt, e.detail["destination"]) for e in fallbacks] == [(1, "warm_first"), (2, "warm_backup")]
    outcome = next(e for e in events if e.type == "outcome")
    assert done["outcome"] == outcome.detail["outcome"] == "transfer-success"
    assert outcome.detail["attempts"] == 3 and outcome.detail["destination"] == "warm_backup"


def test_a_cold_dial_that_fails_carries_twilios_status(sim, phone, api, wait_transfer, service_env):
    sim.add_persona({"address": "+14155550177", "kind": "busy"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "+14155550177", "mode": "cold"}).get_json()
    wait_transfer(transfer["id"])
    events = _log(service_env).history(transfer["id"])
    ended = next(e for e in events if e.type == "dial-ended")
    assert ended.evidence == {"dial_status": "busy"}
    assert next(e for e in events if e.type == "attempt-failed").detail["result"] == "busy"


def test_a_sip_dial_that_fails_carries_the_sip_response_code(sim, phone, api, wait_transfer, service_env):
    sim.add_persona({"address": "sip:busy@pbx.example.com", "kind": "busy"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "busy_pbx", "mode": "cold"}).get_json()
    wait_transfer(transfer["id"])
    ended = next(e for e in _log(service_env).history(transfer["id"]) if e.type == "dial-ended")
    assert ended.evidence == {"dial_status": "busy", "sip_code": "486"}
