"""Warm (attended) transfers end to end: conference, hold audio, whisper, press-a-key, fallbacks."""
import pytest

from .helpers import back_with_agent, events

WARM = "+14155550150"


def _legs_to(sim, address, transfer=None):
    """Outbound legs to an address; only those the transfer dialed (from its timeline) when given."""
    legs = [c for c in sim.calls() if c["to"] == address and c["direction"].startswith("outbound")]
    if transfer is not None:
        mine = {e.get("leg") for e in transfer["timeline"] if e["event"] == "leg-dialed"}
        legs = [c for c in legs if c["sid"] in mine]
    return legs


def _heard_text(sim, sid):
    return " ".join(h.get("text") or "" for h in sim.heard(sid))


def test_accepted_warm_transfer_bridges_after_whisper(sim, phone, api, wait_transfer):
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.1, "press": "1", "press_after": 0.05})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={
        "to": "warm_desk", "reason": "a disputed invoice", "summary": "Caller was charged twice in October."}).get_json()
    assert transfer["mode"] == "warm"
    done = wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success")
    assert done["outcome"] == "transfer-success"
    sim.wait_for(lambda: sim.call(caller)["activity"] == "in-conference", timeout=5, message="caller bridged")
    leg = _legs_to(sim, WARM, done)[-1]
    whisper = _heard_text(sim, leg["sid"])
    assert "Transfer from +14155550100 about a disputed invoice" in whisper
    assert "charged twice" in whisper and "Press 1 to accept" in whisper
    # The caller heard the hold announcement and hold music, never the whisper.
    caller_heard = sim.heard(caller)
    assert any("Please hold" in (h.get("text") or "") for h in caller_heard)
    assert any(h["kind"] in ("play", "music") for h in caller_heard)
    assert "charged twice" not in _heard_text(sim, caller)
    names = events(done)
    answered = next(e for e in done["timeline"] if e["event"] == "leg-answered")
    assert answered["answered_by"] == "human"
    for expected in ("requested", "caller-on-hold", "whisper-prepared", "leg-dialed", "leg-ringing", "leg-answered",
                     "key-pressed", "bridged"):
        assert expected in names, (expected, names)


def test_voicemail_never_hears_the_whisper(sim, phone, api, wait_transfer):
    sim.add_persona({"address": WARM, "kind": "voicemail", "answer_after": 0.1, "greeting_seconds": 0.2})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={
        "to": "warm_desk", "summary": "SECRET-SUMMARY"}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-failed-timeout"
    amd = next(e for e in done["timeline"] if e["event"] == "leg-answered")
    assert amd["answered_by"].startswith("machine")
    legs = _legs_to(sim, WARM, done)
    assert legs
    for leg in legs:
        assert "SECRET-SUMMARY" not in _heard_text(sim, leg["sid"])
        sim.wait_for(lambda: sim.call(leg["sid"])["status"] == "completed", timeout=5, message="leg hung up")
    back_with_agent(sim, caller, "transfer-failed-timeout")


@pytest.mark.parametrize("persona,outcome", [
    ({"kind": "human", "answer_after": 0.1, "press": "2", "press_after": 0.05}, "transfer-screening-rejected"),
    ({"kind": "human", "answer_after": 0.1, "press": None}, "transfer-failed-timeout"),
    ({"kind": "human", "answer_after": 0.1, "hangup_after": 0.15}, "transfer-screening-rejected"),
    ({"kind": "no-answer"}, "transfer-failed-timeout"),
    ({"kind": "busy"}, "transfer-failed-connection-error"),
    ({"kind": "unreachable"}, "transfer-failed-connection-error"),
])
def test_failed_warm_transfer_returns_caller_to_agent(persona, outcome, sim, phone, api, wait_transfer):
    sim.add_persona({"address": WARM, **persona})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk"}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == outcome
    back_with_agent(sim, caller, outcome)


def test_caller_hanging_up_on_hold_cancels_the_leg(sim, phone, api, wait_transfer):
    sim.add_persona({"address": WARM, "kind": "no-answer"})
    caller = phone(persona={"hangup_on_hold_after": 0.3})
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk", "timeout": 20}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-cancelled"
    leg = _legs_to(sim, WARM)[-1]
    sim.wait_for(lambda: sim.call(leg["sid"])["status"] in ("canceled", "completed"), timeout=5, message="leg ended")


def test_retry_then_fallback_recipient(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550151", "kind": "busy"})
    sim.add_persona({"address": "+14155550152", "kind": "human", "answer_after": 0.1, "press": "1",
                     "press_after": 0.05})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_first"}).get_json()
    done = wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success")
    assert done["outcome"] == "transfer-success"
    assert len(_legs_to(sim, "+14155550151", done)) == 2    # tried, then retried
    assert len(_legs_to(sim, "+14155550152", done)) == 1    # then the fallback accepted
    fallbacks = [e for e in done["timeline"] if e["event"] == "fallback-taken"]
    assert [f["attempt"] for f in fallbacks] == [1, 2]


def test_parallel_group_second_accepts_others_cancelled(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550161", "kind": "no-answer"})
    sim.add_persona({"address": "+14155550162", "kind": "human", "answer_after": 0.1, "press": "1",
                     "press_after": 0.05})
    sim.add_persona({"address": "+14155550163", "kind": "human", "answer_after": 5})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "trio"}).get_json()
    done = wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success")
    assert done["outcome"] == "transfer-success"
    winner = _legs_to(sim, "+14155550162", done)[-1]
    sim.wait_for(lambda: sim.call(caller)["activity"] == "in-conference", timeout=5, message="caller bridged")
    for loser in ("+14155550161", "+14155550163"):
        leg = _legs_to(sim, loser, done)[-1]
        sim.wait_for(lambda: sim.call(leg["sid"])["status"] == "canceled", timeout=5, message=f"{loser} cancelled")
    assert sim.call(winner["sid"])["status"] == "in-progress"


def test_temporary_warm_transfer_returns_caller_after_recipient_hangs_up(sim, phone, api, wait_transfer):
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.1, "press": "1", "press_after": 0.05,
                     "hangup_after": 1.0})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk", "final": False}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-success"
    back_with_agent(sim, caller, "transfer-success")


def test_spoken_hold_message_and_message_last_resort(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550170", "kind": "no-answer"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "hold_message_desk"}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-failed-timeout"
    sim.wait_for(lambda: sim.call(caller)["status"] == "completed", timeout=5, message="caller told and hung up")
    heard = _heard_text(sim, caller)
    assert "Thanks for waiting" in heard and "nobody can take your call" in heard


def test_api_cancel_during_hold_ends_leg_and_returns_caller(sim, phone, api, wait_transfer):
    sim.add_persona({"address": WARM, "kind": "no-answer"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk", "timeout": 20}).get_json()
    sim.wait_for(lambda: _legs_to(sim, WARM) and sim.call(_legs_to(sim, WARM)[-1]["sid"])["status"] == "ringing",
                 timeout=5, message="leg ringing")
    assert api("post", f"/api/transfers/{transfer['id']}/cancel").status_code == 200
    back_with_agent(sim, caller, "transfer-cancelled")
    leg = _legs_to(sim, WARM)[-1]
    sim.wait_for(lambda: sim.call(leg["sid"])["status"] == "canceled", timeout=5, message="leg cancelled")


def test_silent_hold_then_voicemail_last_resort(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550172", "kind": "no-answer"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "quiet_desk"}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-failed-timeout"
    sim.wait_for(lambda: "leave a message" in _heard_text(sim, caller), timeout=5, message="voicemail prompt")
    heard = sim.heard(caller)
    assert any("One moment" in (h.get("text") or "") for h in heard)
    # Silent hold: no music and no spoken hold message while the leg rang.
    assert not any(h["kind"] in ("play", "music") for h in heard)


def test_failed_transfer_tells_the_agent_the_reason(sim, phone, api, wait_transfer):
    sim.add_persona({"address": WARM, "kind": "busy"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers",
                   json={"to": "warm_desk", "reason": "refund request"}).get_json()
    wait_transfer(transfer["id"])
    call = back_with_agent(sim, caller, "transfer-failed-connection-error")
    assert call["agent"]["parameters"]["transfer_reason"] == "refund request"


def _texts(sim, sid):
    return [h.get("text") or "" for h in sim.heard(sid)]


@pytest.mark.parametrize("to,address,persona", [
    # Detection cannot classify the box: it says 'unknown'.
    ("warm_desk", WARM, {"kind": "voicemail", "answer_after": 0.1, "detected_as": "unknown"}),
    # Detection is off for this recipient: nobody is known to be human.
    ("blind_desk", "+14155550174", {"kind": "voicemail", "answer_after": 0.1}),
])
def test_a_machine_detection_cannot_vouch_for_never_hears_the_caller(to, address, persona, sim, phone, api,
                                                                     wait_transfer):
    sim.add_persona({"address": address, **persona})
    caller = phone("+14155550184")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={
        "to": to, "reason": "SECRET-REASON", "summary": "SECRET-SUMMARY"}).get_json()
    done = wait_transfer(transfer["id"], timeout=20)
    assert done["outcome"] == "transfer-failed-timeout"
    legs = _legs_to(sim, address, done)
    assert legs
    for leg in legs:
        heard = " ".join(_texts(sim, leg["sid"]))
        assert "You have a transferred call. Press 1 to hear it." in heard
        assert "SECRET" not in heard and "+14155550184" not in heard
    back_with_agent(sim, caller, "transfer-failed-timeout")


def test_a_person_who_presses_the_consent_key_hears_the_whisper_and_can_accept(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550174", "kind": "human", "answer_after": 0.1, "press": "1",
                     "press_after": 0.05})
    caller = phone("+14155550185")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={
        "to": "blind_desk", "reason": "a refund", "summary": "Charged twice."}).get_json()
    done = wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success", timeout=15)
    leg = _legs_to(sim, "+14155550174", done)[-1]["sid"]
    heard = _texts(sim, leg)
    consent = next(i for i, text in enumerate(heard) if "Press 1 to hear it" in text)
    whisper = next(i for i, text in enumerate(heard) if "Transfer about a refund. Charged twice." in text)
    assert consent < whisper
    assert "consent-given" in events(done)


def test_hold_is_an_announcement_then_music_when_nothing_is_configured(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550161", "kind": "human", "answer_after": 1.0, "press": "1",
                     "press_after": 0.05})
    caller = phone("+14155550186")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "trio_a", "mode": "warm"}).get_json()
    wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success", timeout=15)
    heard = sim.heard(caller)
    announced = next(i for i, h in enumerate(heard) if "Please hold" in (h.get("text") or ""))
    assert any(h["kind"] in ("play", "music") for h in heard[announced + 1:])
    assert not any(h["kind"] == "silence" for h in heard[announced + 1:])


def test_detection_settings_reach_twilio(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550175", "kind": "human", "answer_after": 0.1, "press": "1",
                     "press_after": 0.05})
    caller = phone("+14155550192")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "tuned_desk"}).get_json()
    wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success", timeout=15)
    create = next(r for r in sim.requests() if r["method"] == "POST" and r["path"].endswith("/Calls.json")
                  and r["params"].get("To") == "+14155550175")
    params = create["params"]
    assert params["MachineDetection"] == "Enable" and params["MachineDetectionTimeout"] == "5"
    assert (params["MachineDetectionSpeechThreshold"], params["MachineDetectionSpeechEndThreshold"],
            params["MachineDetectionSilenceTimeout"]) == ("2400", "1200", "3000")
