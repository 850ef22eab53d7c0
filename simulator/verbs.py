"""One function per TwiML verb, each run by a CallRunner on the call's own thread."""

import re
import time
from urllib.parse import urljoin

from simulator.delivery import request_ignoring_answer
from simulator.parties import CHOICES
from simulator.twiml import boolean, integer, text
from simulator.engine import Hangup


def _say_seconds(runner, words):
    return len(words) * runner.sim.settings.speech_seconds_per_char


# How a persona with `press: accept|decline` reads a prompt ("Press 1 to accept the call, or 2 to decline.").
ACCEPT_KEY = re.compile(r"press\s+([0-9*#])\s+to\s+accept", re.I)
DECLINE_KEY = re.compile(r"([0-9*#])\s+to\s+decline", re.I)
ANY_KEY = re.compile(r"press\s+([0-9*#])", re.I)


def _prompt_kind(runner, kind):
    return "whisper" if runner.whisper_mode and kind == "say" else kind


def _prompt_text(el):
    return " ".join(text(child) for child in el if child.tag == "Say")


def offers_choice(el):
    """True for a <Gather> whose prompt offers a key to accept and one to decline (a whisper prompt)."""
    words = _prompt_text(el)
    return bool(ACCEPT_KEY.search(words) and DECLINE_KEY.search(words))


def choose_key(choice, el):
    """The key a persona choosing 'accept' or 'decline' presses at this <Gather>, or None.

    A prompt naming a single key and no choice (a consent prompt: "Press 1 to hear it") gets that key
    either way: a person who will decline still listens first."""
    words = _prompt_text(el)
    accept, decline = ACCEPT_KEY.search(words), DECLINE_KEY.search(words)
    if choice == "accept" and accept:
        return accept.group(1)
    if choice == "decline" and decline:
        return decline.group(1)
    if accept or decline:
        return None
    keys = set(ANY_KEY.findall(words))
    return keys.pop() if len(keys) == 1 else None


def _hangs_up_here(runner):
    """A persona with hangup_during: whisper, now hearing a whisper (a <Number url> document or a choice prompt)."""
    persona = runner.call.persona
    return bool(persona and persona.hangup_during == "whisper" and
                (runner.whisper_mode or runner.choice_prompt))


def _listen_or_hang_up(runner, kind, seconds, until, **data):
    """Hear a prompt; a persona that hangs up mid-whisper hears its start (half, at most 0.5 s), then hangs up."""
    if not _hangs_up_here(runner):
        return runner.listen(kind, seconds, until, **data)
    runner.listen(kind, min(seconds / 2, 0.5), until, interrupted=True, **data)
    runner.sim.event(runner.call, "hangup-during", what="whisper")
    runner.sim.hangup(runner.call.sid, by="party")
    raise Hangup()


def verb_say(runner, el, until=None):
    """<Say>: the party hears the text (loop times; 0 = until interrupted)."""
    words = text(el)
    loops = integer(el.get("loop"), 1)
    runner.set_activity("say")
    for _ in range(loops if loops > 0 else 1000):
        if _listen_or_hang_up(runner, _prompt_kind(runner, "say"), _say_seconds(runner, words), until, text=words,
                              voice=el.get("voice"), language=el.get("language")):
            return True
    return False


def verb_play(runner, el, until=None):
    """<Play>: the party hears an audio URL for play_seconds per loop (0 = until interrupted)."""
    url = text(el)
    loops = integer(el.get("loop"), 1)
    runner.set_activity("play")
    if el.get("digits"):
        runner.sim.event(runner.call, "play-digits", digits=el.get("digits"))
    for _ in range(loops if loops > 0 else 1000):
        if _listen_or_hang_up(runner, _prompt_kind(runner, "play"), runner.sim.settings.play_seconds, until, url=url):
            return True
    return False


def verb_pause(runner, el, until=None):
    """<Pause length=N>: silence."""
    runner.set_activity("pause")
    return runner.listen("silence", integer(el.get("length"), 1), until)


def verb_gather(runner, el):
    """<Gather>: play nested prompts (barge-in on a key), collect digits, request the action with Digits."""
    call, sim = runner.call, runner.sim
    num_digits = integer(el.get("numDigits"), 0)
    timeout = integer(el.get("timeout"), 5)
    finish_key = el.get("finishOnKey", "#")
    with call.cv:
        call.digits = ""
        call.accepting_digits = True
    try:
        pressed = lambda: bool(call.digits)  # noqa: E731
        barged = False
        runner.choice_prompt = offers_choice(el)
        try:
            for child in el:
                if globals()["verb_" + child.tag.lower()](runner, child, until=pressed):
                    barged = True
                    break
        finally:
            runner.choice_prompt = False
        runner.set_activity("gather")
        persona = call.persona
        if not barged and _speaks(persona, el):
            if _speak(runner, el, persona, timeout):
                return
        # A persona that hangs up mid-whisper listens until then: past a consent prompt, say.
        press = persona and (persona.press or ("accept" if persona.hangup_during == "whisper" else None))
        if not barged and press and persona.kind in ("human", "ivr"):
            keys = choose_key(press, el) if press in CHOICES else press
            if press in CHOICES:
                sim.event(call, "persona-choice", choice=press, key=keys)
            if keys and not runner.wait(persona.press_after, pressed):
                with call.cv:
                    call.digits += keys
                    call.cv.notify_all()
                sim.event(call, "digits", digits=keys, accepted=True, by="persona")
        collected, finished = "", False
        while True:
            if not runner.wait(timeout, pressed):
                break
            with call.cv:
                buffer, call.digits = call.digits, ""
            for ch in buffer:
                if finish_key and ch in finish_key:
                    finished = True
                    break
                collected += ch
                if num_digits and len(collected) >= num_digits:
                    finished = True
                    break
            if finished:
                break
    finally:
        with call.cv:
            call.accepting_digits = False
    sim.event(call, "gathered", digits=collected)
    if collected or boolean(el.get("actionOnEmptyResult")):
        action = el.get("action") or runner.doc_url  # Twilio defaults the action to the current document
        if action:
            extra = {"Digits": collected}
            if finished and not (num_digits and len(collected) >= num_digits):
                extra["FinishedOnKey"] = finish_key[:1]
            runner.action(action, el.get("method"), extra)
    # No input: Twilio falls through to the next verb.


SPEECH_CONFIDENCE = "0.9216"     # what Twilio's recognizer reports for clear words (Confidence: 0.0 to 1.0)


def _speaks(persona, el):
    """A human (or IVR) persona with words to `say`, at a <Gather> whose input includes speech."""
    return bool(persona and persona.say and persona.kind in ("human", "ivr")
                and "speech" in (el.get("input") or "dtmf").split())


def _speak(runner, el, persona, timeout):
    """The persona says its words after press_after; Twilio hears them out, waits speechTimeout (its
    `timeout` when unset; 'auto': a short pause) and requests the action with SpeechResult and Confidence
    (and no Digits). True when the action ran; False when a key came first (the digits path goes on)."""
    call, sim = runner.call, runner.sim
    pressed = lambda: bool(call.digits)  # noqa: E731
    if runner.wait(persona.press_after, pressed):
        return False
    words = persona.say
    sim.event(call, "speech", words=words, by="persona")
    runner.wait(len(words) * sim.settings.speech_seconds_per_char)
    pause = el.get("speechTimeout")
    runner.wait(0.5 if pause == "auto" else integer(pause, timeout))
    with call.cv:
        call.accepting_digits = False
    sim.event(call, "gathered", speech=words)
    action = el.get("action") or runner.doc_url
    if action:
        runner.action(action, el.get("method"), {"SpeechResult": words, "Confidence": SPEECH_CONFIDENCE})
    return True


def verb_redirect(runner, el):
    """<Redirect>: continue with the document at the URL."""
    runner.action(text(el), el.get("method") or "POST", None)


def verb_hangup(runner, el):
    """<Hangup>: end the call."""
    runner.sim.hangup(runner.call.sid, by="twiml")
    raise Hangup()


def verb_reject(runner, el):
    """<Reject reason=rejected|busy>: refuse an unanswered call."""
    reason = el.get("reason", "rejected")
    # Twilio's <Reject> docs: "The call ends with a status of busy or no-answer, depending on reason".
    status = "busy" if reason == "busy" else "no-answer"
    runner.sim.event(runner.call, "reject", reason=reason)
    with runner.call.cv:
        runner.call.hangup_reason = "reject"
        runner.call.final_status = status
    raise Hangup()


def verb_unsupported(runner, el):
    """Verbs Twilio has that the simulator does not act on: recorded, then skipped."""
    runner.sim.event(runner.call, "unsupported-verb", verb=el.tag)


for _name in ("record", "enqueue", "leave", "sms", "start", "stop", "echo", "pay", "prompt"):
    globals()["verb_" + _name] = verb_unsupported


def _parameters(el):
    return {p.get("name"): p.get("value") for p in el if p.tag == "Parameter"}


def verb_connect(runner, el):
    """<Connect><ConversationRelay|Stream>: the caller is with the AI agent until the session ends."""
    call, sim = runner.call, runner.sim
    noun = el[0] if len(el) else None
    if noun is None:
        return  # an empty <Connect> connects nothing; Twilio moves on
    with call.cv:
        call.agent_end = None
        call.agent.update(connected=True, sessions=call.agent["sessions"] + 1, url=noun.get("url"),
                          parameters=_parameters(noun), kind=noun.tag)
    runner.set_activity("with-agent")
    sim.event(call, "agent-connected", noun=noun.tag, url=noun.get("url"), parameters=_parameters(noun))
    started = time.monotonic()
    try:
        runner.wait(None, lambda: call.agent_end is not None)
    finally:
        with call.cv:
            call.agent["connected"] = False
            handoff = call.agent_end
            call.agent["handoff_data"] = handoff if handoff is not None else call.agent["handoff_data"]
    sim.event(call, "agent-ended", handoff_data=handoff)
    if el.get("action"):
        extra = {"SessionStatus": "ended", "SessionDuration": str(int(time.monotonic() - started))}
        if noun.tag == "ConversationRelay":
            extra["SessionId"] = "VX" + call.sid[2:]
            if handoff:
                extra["HandoffData"] = handoff
        runner.action(el.get("action"), el.get("method"), extra)


def verb_refer(runner, el):
    """<Refer><Sip>: hand a SIP call to another SIP endpoint (error 13801 on non-SIP legs)."""
    call, sim = runner.call, runner.sim
    if not call.sip and not call.to.lower().startswith("sip:"):
        sim.record_error(call, 13801, "Refer not allowed on non-SIP call legs")
        runner.application_error()
    target = text(el[0]) if len(el) else ""
    # The referred party is reached on behalf of this call: scoped by its From and To, as a child leg's would be.
    persona = sim.persona_for(target, sim.context_of(None, call.sid))
    sim.event(call, "refer", to=target)
    if persona is None:
        status, code = "failed", "404"
    elif persona.kind == "busy":
        status, code = "failed", "486"
    elif persona.kind in ("unreachable",):
        status, code = "failed", "503"
    elif persona.kind == "no-answer":
        status, code = "no-answer", "408"
    else:
        status, code = "completed", "202"
    if el.get("action"):
        # The action's TwiML runs only when the transfer failed; on success the call is out of Twilio.
        extra = {"ReferCallStatus": status, "ReferSipResponseCode": code}
        if status == "completed":
            url = urljoin(runner.doc_url, el.get("action")) if runner.doc_url else el.get("action")
            request_ignoring_answer(sim, call, url, {**sim.call_params(call), **extra}, el.get("method") or "POST")
        else:
            runner.action(el.get("action"), el.get("method"), extra)
    if status == "completed":
        sim.hangup(call.sid, by="refer")
        raise Hangup()


def verb_dial(runner, el):
    """<Dial>: ring Number/Sip/Client nouns (first to answer wins) or join a Conference."""
    from simulator.dial import dial

    dial(runner, el)
