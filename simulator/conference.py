"""Conferences: joining, wait and hold audio, start/end rules, participant updates, status callbacks."""

import itertools
import time

from simulator import twiml
from simulator.delivery import send_callback
from simulator.engine import AUDIO_SUFFIXES, DEFAULT_WAIT_MUSIC
from simulator.model import Participant, rfc2822, API_VERSION
from simulator.twiml import boolean, text

# StatusCallbackEvent value → the statusCallbackEvent name that subscribes to it (Twilio's <Conference> docs).
EVENT_GROUP = {
    "conference-start": "start", "conference-end": "end", "participant-join": "join",
    "participant-leave": "leave", "participant-mute": "mute", "participant-unmute": "mute",
    "participant-hold": "hold", "participant-unhold": "hold", "participant-modify": "modify",
    "announcement-end": "announcement", "announcement-fail": "announcement",
}


def _poke_all(sim, conf):
    for p in list(conf.participants.values()):
        call = sim.calls.get(p.call_sid)
        if call is not None:
            call.poke()


def conference_event(sim, conf, event, participant=None, **extra):
    """Record a conference event and send it to the conference's status callback if subscribed."""
    with sim.lock:
        conf.sequence += 1
        seq = conf.sequence
    params = {"AccountSid": conf.account_sid, "ConferenceSid": conf.sid, "FriendlyName": conf.friendly_name,
              "StatusCallbackEvent": event, "SequenceNumber": str(seq), "Timestamp": rfc2822(time.time())}
    if participant is not None:
        params.update({
            "CallSid": participant.call_sid, "Muted": str(participant.muted).lower(),
            "Hold": str(participant.hold).lower(), "Coaching": str(participant.coaching).lower(),
            "EndConferenceOnExit": str(participant.end_conference_on_exit).lower(),
            "StartConferenceOnEnter": str(participant.start_conference_on_enter).lower(),
        })
        if participant.label:
            params["ParticipantLabel"] = participant.label
        if participant.call_sid_to_coach:
            params["CallSidToCoach"] = participant.call_sid_to_coach
    params.update({k: v for k, v in extra.items() if v is not None})
    for p in list(conf.participants.values()) + ([participant] if participant else []):
        call = sim.calls.get(p.call_sid)
        if call is not None:
            sim.event(call, "conference-event", event=event, conference=conf.friendly_name)
    if not conf.status_callback or EVENT_GROUP.get(event) not in conf.status_callback_events:
        return
    owner = sim.calls.get(participant.call_sid) if participant else None
    # Fault rules match the calls an event is about: its participant, else everyone in the conference.
    sids = [participant.call_sid] if participant else \
        [p.call_sid for p in list(conf.participants.values())] + [extra.get("CallSidEndingConference")]
    about = [sim.calls.get(sid) for sid in sids if sid]
    send_callback(sim, conf.sid, conf.status_callback, params, method=conf.status_callback_method,
                  calls=about, owner=owner, event_type="conference-callback")


def configure_callbacks(conf, url, method, events):
    """The first participant that names a status callback sets the conference's callback."""
    if url and not conf.status_callback:
        conf.status_callback = url
        conf.status_callback_method = method or "POST"
        conf.status_callback_events = tuple((events or "").replace(",", " ").split())


def join(sim, conf, participant, call):
    """Connect a participant; start the conference when a startConferenceOnEnter participant has company."""
    with sim.lock:
        conf.participants[participant.call_sid] = participant
        participant.status = "connected"
        participant.date_updated = time.time()
        conf.ever_connected = True
        call.conference = conf.friendly_name
    conference_event(sim, conf, "participant-join", participant)
    if str(participant.beep).lower() in ("true", "onenter"):
        # beep=true|onEnter: the others hear a beep when someone joins (Twilio <Conference beep> docs).
        for other in list(conf.participants.values()):
            other_call = sim.calls.get(other.call_sid)
            if other is not participant and other.status == "connected" and other_call is not None:
                sim.hear(other_call, "beep", seconds=0.0, joined=participant.call_sid)
    _maybe_start(sim, conf)


def _maybe_start(sim, conf):
    with sim.lock:
        present = [p for p in conf.participants.values() if p.status == "connected"]
        start = conf.status == "init" and len(present) >= 2 and any(p.start_conference_on_enter for p in present)
        if start:
            conf.status = "in-progress"
            conf.date_updated = time.time()
    if start:
        conference_event(sim, conf, "conference-start")
        _poke_all(sim, conf)


def leave(sim, conf, participant, *, reason="participant_hung_up", kicked=False):
    """A participant leaves; endConferenceOnExit or the last one leaving ends the conference."""
    with sim.lock:
        if conf.participants.get(participant.call_sid) is not participant:
            return
        del conf.participants[participant.call_sid]
        was_connected = participant.status == "connected"
        participant.status = "complete"
        call = sim.calls.get(participant.call_sid)
        if call is not None:
            call.conference = None
        remaining = [p for p in conf.participants.values() if p.status == "connected"]
    if not was_connected:
        return
    conference_event(sim, conf, "participant-leave", participant, ReasonParticipantLeft=reason)
    if conf.status == "completed":
        return
    if participant.end_conference_on_exit:
        end(sim, conf, "participant-with-end-conference-on-exit-" + ("kicked" if kicked else "left"),
            participant.call_sid)
    elif not remaining:
        end(sim, conf, "last-participant-kicked" if kicked else "last-participant-left", participant.call_sid)


def drop(sim, conf, participant):
    """A participant whose call never connected (busy, no answer…) goes away without events."""
    with sim.lock:
        conf.participants.pop(participant.call_sid, None)
        participant.status = "failed"
        if not conf.participants and not getattr(conf, "ever_connected", False):
            sim.conferences.pop(conf.sid, None)


def end(sim, conf, reason, call_sid=None):
    """End the conference: everyone still in it leaves (their calls continue after <Dial>)."""
    with sim.lock:
        if conf.status == "completed":
            return
        conf.status = "completed"
        conf.date_updated = time.time()
        conf.reason_conference_ended = reason
        conf.call_sid_ending_conference = call_sid
    conference_event(sim, conf, "conference-end", ReasonConferenceEnded=reason, CallSidEndingConference=call_sid)
    _poke_all(sim, conf)


def update_participant(sim, conf, participant, changes):
    """Apply a REST update (Hold, HoldUrl, Muted, Coaching, CallSidToCoach, EndConferenceOnExit, AnnounceUrl…)."""
    events = []
    with sim.lock:
        if "Muted" in changes and boolean(changes["Muted"]) != participant.muted:
            participant.muted = boolean(changes["Muted"])
            events.append("participant-mute" if participant.muted else "participant-unmute")
        if "HoldUrl" in changes:
            participant.hold_url = changes["HoldUrl"]
        if "HoldMethod" in changes:
            participant.hold_method = changes["HoldMethod"]
        if "WaitUrl" in changes:
            participant.wait_url = changes["WaitUrl"]
        if "Hold" in changes and boolean(changes["Hold"]) != participant.hold:
            participant.hold = boolean(changes["Hold"])
            events.append("participant-hold" if participant.hold else "participant-unhold")
        modified = False
        if "Coaching" in changes:
            participant.coaching = boolean(changes["Coaching"])
            modified = True
        if "CallSidToCoach" in changes:
            participant.call_sid_to_coach = changes["CallSidToCoach"] or None
            modified = True
        if "EndConferenceOnExit" in changes:
            participant.end_conference_on_exit = boolean(changes["EndConferenceOnExit"])
            modified = True
        if modified:
            events.append("participant-modify")
        participant.date_updated = time.time()
    for event in events:
        conference_event(sim, conf, event, participant)
    call = sim.calls.get(participant.call_sid)
    if call is not None:
        call.poke()
    if changes.get("AnnounceUrl"):
        announce(sim, conf, changes["AnnounceUrl"], changes.get("AnnounceMethod") or "POST", [participant])


def announce(sim, conf, url, method, targets=None):
    """Fetch an announcement (TwiML or audio) and let the targets (default: everyone) hear it."""
    targets = list(conf.participants.values()) if targets is None else targets

    def run():
        params = {"AccountSid": conf.account_sid, "ConferenceSid": conf.sid, "FriendlyName": conf.friendly_name,
                  "ApiVersion": API_VERSION}
        heard = []
        if url.lower().split("?")[0].endswith(AUDIO_SUFFIXES):
            heard.append({"url": url})
        else:
            result = sim.webhooks.request(url, params, method=method)
            try:
                if not result.ok:
                    raise twiml.TwimlError(result.error_code, result.error_message)
                root = twiml.parse(result.body, strict=sim.settings.strict)
                for verb in root:
                    if verb.tag == "Say":
                        heard.append({"text": text(verb)})
                    elif verb.tag == "Play":
                        heard.append({"url": text(verb)})
            except twiml.TwimlError as exc:
                sim.record_error(None, exc.code, exc.message, url)
                conference_event(sim, conf, "announcement-fail")
                return
        for p in targets:
            call = sim.calls.get(p.call_sid)
            if call is not None:
                for item in heard:
                    seconds = (len(item["text"]) * sim.settings.speech_seconds_per_char if "text" in item
                               else sim.settings.play_seconds)
                    sim.hear(call, "announce", seconds=seconds, **item)
        conference_event(sim, conf, "announcement-end")

    sim.sender.submit(conf.sid, run)


# ----- the conference as a call experiences it ----------------------------------------------------

def dial_conference(runner, dial_el, noun):
    """<Dial><Conference>name</Conference></Dial>: join, stay until leaving, then the Dial action."""
    sim, call = runner.sim, runner.call
    conf = sim.find_conference(text(noun), create=True)
    with sim.lock:
        configure_callbacks(conf, runner.absolute(noun.get("statusCallback")), noun.get("statusCallbackMethod"),
                            noun.get("statusCallbackEvent"))
    participant = Participant(
        conference=conf, call_sid=call.sid, label=noun.get("participantLabel"),
        start_conference_on_enter=boolean(noun.get("startConferenceOnEnter"), True),
        end_conference_on_exit=boolean(noun.get("endConferenceOnExit"), False),
        muted=boolean(noun.get("muted"), False), coaching=bool(noun.get("coach")),
        call_sid_to_coach=noun.get("coach"), beep=noun.get("beep", "true"),
        wait_url=runner.absolute(noun.get("waitUrl")) if noun.get("waitUrl") else noun.get("waitUrl"), wait_method=noun.get("waitMethod") or "POST",
    )
    started = time.monotonic()
    in_conference(runner, conf, participant)
    if dial_el.get("action"):
        runner.action(dial_el.get("action"), dial_el.get("method"),
                      {"DialCallStatus": "completed", "DialCallDuration": str(int(time.monotonic() - started)),
                       "DialBridged": "false", "ConferenceSid": conf.sid})


def in_conference(runner, conf, participant):
    """Stay in a conference: wait audio before it starts, hold audio on hold, else talking."""
    sim, call = runner.sim, runner.call
    join(sim, conf, participant, call)
    gone = lambda: participant.status != "connected" or conf.status == "completed"  # noqa: E731
    kicked = False
    try:
        while not gone():
            runner.check()
            if conf.status == "init":
                runner.set_activity("waiting-in-conference")
                _hold_timer(runner)
                _play_loop(runner, participant.wait_url, participant.wait_method,
                           lambda: conf.status != "init" or gone())
            elif participant.hold:
                runner.set_activity("on-hold")
                _hold_timer(runner)
                _play_loop(runner, participant.hold_url, participant.hold_method,
                           lambda: not participant.hold or gone(), default_music=True)
            else:
                runner.set_activity("in-conference")
                runner.listen("conference", None, lambda: participant.hold or gone(), conference=conf.friendly_name)
        kicked = participant.status == "complete"
    finally:
        reason = "participant_hung_up" if call.hangup_reason else "participant_updated_via_api"
        leave(sim, conf, participant, reason=reason)
    return kicked


def _hold_timer(runner):
    """A caller persona that hangs up after N seconds of hold/wait audio."""
    persona, call = runner.call.persona, runner.call
    if not persona or persona.hangup_on_hold_after is None:
        return
    runner.hold_token = token = object()
    activity = call.activity

    def maybe_hang_up():
        if getattr(runner, "hold_token", None) is token and call.activity == activity:
            runner.sim.hangup(call.sid, by="party")

    runner.sim.scheduler.after(persona.hangup_on_hold_after, maybe_hang_up)


def _play_loop(runner, url, method, until, *, default_music=True):
    """Loop wait/hold audio until `until()`: default music, silence for "", an audio URL, or TwiML."""
    sim = runner.sim
    try:
        while not until():
            runner.check()
            if url is None:
                runner.listen("music", sim.settings.play_seconds, until, url=DEFAULT_WAIT_MUSIC)
            elif url == "":
                runner.listen("silence", None, until)
            elif url.lower().split("?")[0].endswith(AUDIO_SUFFIXES):
                runner.listen("music", sim.settings.play_seconds, until, url=url)
            else:
                root = _fetch_wait_twiml(runner, url, method, until)
                if root is None:
                    runner.listen("silence", None, until)
                    continue
                played = False
                for verb in root:
                    if until():
                        break
                    loops = twiml.integer(verb.get("loop"), 1)
                    # loop="0" repeats until the wait ends, as on Twilio (no refetch of the waitUrl).
                    for _ in (itertools.count() if loops == 0 else range(max(1, loops))):
                        if until():
                            break
                        if verb.tag == "Say":
                            played = True
                            if runner.listen("say", len(text(verb)) * sim.settings.speech_seconds_per_char,
                                             until, text=text(verb)):
                                break
                        elif verb.tag == "Play":
                            played = True
                            if runner.listen("music", sim.settings.play_seconds, until, url=text(verb)):
                                break
                        elif verb.tag == "Pause":
                            played = True
                            if runner.listen("silence", twiml.integer(verb.get("length"), 1), until):
                                break
                if not played:
                    runner.listen("silence", None, until)
    finally:
        runner.hold_token = None


def _fetch_wait_twiml(runner, url, method, until):
    sim, call = runner.sim, runner.call
    result = runner.request_document(url, sim.call_params(call), method or "POST", until=until)
    if result is None:  # dropped or delayed past the end of the wait
        return None
    sim.event(call, "webhook", **result.to_event())
    if not result.ok:
        sim.record_error(call, result.error_code, result.error_message, url)
        return None
    try:
        root = twiml.parse(result.body, strict=sim.settings.strict)
    except twiml.TwimlError as exc:
        sim.record_error(call, exc.code, exc.message, url)
        return None
    sim.event(call, "twiml", url=url, xml=result.body)
    return root
