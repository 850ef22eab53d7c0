"""<Dial> to numbers, SIP URIs and clients: ringing legs, whisper, bridge, Dial action."""

import time
from urllib.parse import parse_qsl

from simulator import amd
from simulator.delivery import request_ignoring_answer
from simulator.engine import Hangup, Redirected
from simulator.parties import is_dialable
from simulator.twiml import boolean, integer, text


def _events(value, default=("completed",)):
    return tuple(value.split()) if value else default


def _target(noun):
    """(address, error) for a Number/Sip/Client noun."""
    if noun.tag == "Number":
        number = text(noun)
        return (number, None) if is_dialable(number) and number.startswith("+") else \
            (number, (13224, f"Dial: Invalid phone number format: '{number}'"))
    if noun.tag == "Sip":
        uri = text(noun)
        return (uri, None) if is_dialable(uri) and uri.lower().startswith("sip") else \
            (uri, (13224, f"Dial: Invalid SIP URI: '{uri}'"))
    identity = text(noun)
    for child in noun:
        if child.tag == "Identity":
            identity = text(child)
    return ("client:" + identity, None) if identity else ("client:", (13224, "Dial: Client without identity"))


def start_leg(runner, noun, address, *, caller_id, timeout):
    """Create and start the outbound-dial leg for one noun."""
    sim, parent = runner.sim, runner.call
    sip_uri, headers = address, {}
    if noun.tag == "Sip" and "?" in address:
        sip_uri, query = address.split("?", 1)
        headers = dict(parse_qsl(query))
    leg = sim.new_call(from_=caller_id, to=sip_uri, direction="outbound-dial", parent_call_sid=parent.sid,
                       sip=noun.tag == "Sip")
    leg.context = sim.context_of(caller_id, parent.sid)
    leg.persona = sim.persona_for(sip_uri, leg.context)
    if noun.get("statusCallback"):
        leg.status_callback = runner.absolute(noun.get("statusCallback"))
        leg.status_callback_method = noun.get("statusCallbackMethod") or "POST"
        leg.status_callback_events = _events(noun.get("statusCallbackEvent"))
    sim.event(leg, "dialed", by=parent.sid, noun=noun.tag, to=sip_uri, sip_headers=headers,
              sip_username=noun.get("username"))
    sim.event(parent, "dial-leg", leg=leg.sid, to=sip_uri, noun=noun.tag)
    detection = amd.twiml_options(noun, runner.absolute)
    whisper = (runner.absolute(noun.get("url")), noun.get("method") or "POST") if noun.get("url") else None
    sim.start(leg, "dial-leg", ring_timeout=timeout, whisper=whisper, amd=detection,
              send_digits=noun.get("sendDigits"))
    return leg


def _outcome(legs):
    statuses = [leg.final_status or leg.status for leg in legs]
    if "busy" in statuses:
        return "busy"
    if "no-answer" in statuses:
        return "no-answer"
    if "completed" in statuses or "canceled" in statuses:
        # A leg answered but hung up during its whisper (screening declined): the caller's Dial was not
        # connected; rests on Twilio treating an unbridged answered leg as not answered.
        return "no-answer"
    return "failed"


def dial(runner, el):
    """Run a <Dial> verb."""
    sim, call = runner.sim, runner.call
    nouns = list(el)
    if not nouns and text(el):
        nouns = [_bare_number(el)]
    conference = next((n for n in nouns if n.tag == "Conference"), None)
    if conference is not None:
        from simulator.conference import dial_conference

        runner.answer()
        dial_conference(runner, el, conference)
        return
    if not boolean(el.get("answerOnBridge")):
        runner.answer()
    timeout = integer(el.get("timeout"), 30)
    caller_id = el.get("callerId") or call.from_
    legs = []
    for noun in nouns:
        address, error = _target(noun)
        if error:
            sim.record_error(call, error[0], error[1])
            continue
        legs.append(start_leg(runner, noun, address, caller_id=caller_id, timeout=timeout))
    runner.set_activity("dialing")
    winner, result = None, "failed"
    started = time.monotonic()
    try:
        if legs:
            runner.wait(None, lambda: any(l.bridge_ready and not l.ended for l in legs) or all(l.ended for l in legs))
        winner = next((l for l in legs if l.bridge_ready and not l.ended), None)
        for leg in legs:
            if leg is not winner:
                sim.hangup(leg.sid, by="dial", status="canceled")
        if winner is None:
            result = _outcome(legs) if legs else "failed"
        else:
            _bridge(runner, el, winner)
            result = "completed"
    except (Hangup, Redirected) as exc:
        for leg in legs:
            sim.hangup(leg.sid, by="dial")
        if isinstance(exc, Hangup) and el.get("action"):
            # Twilio still requests the Dial action when the caller hangs up; the answer is ignored.
            params = {**sim.call_params(call), "CallStatus": "completed",
                      "DialCallStatus": "completed" if winner else "canceled",
                      "DialBridged": "true" if winner else "false"}
            if legs:
                params["DialCallSid"] = (winner or legs[-1]).sid
            request_ignoring_answer(sim, call, runner.absolute(el.get("action")), params, el.get("method") or "POST")
        raise
    finally:
        with call.cv:
            call.accepting_digits = False
            call.bridged_with = None
    if winner is not None:
        sim.hangup(winner.sid, by="dial")
    sim.event(call, "dial-result", status=result, seconds=round(time.monotonic() - started, 3))
    extra = {"DialCallStatus": result, "DialBridged": "true" if winner else "false"}
    if legs:
        extra["DialCallSid"] = (winner or legs[-1]).sid
        if (winner or legs[-1]).to.startswith("sip:"):
            # <Dial><Sip>: Twilio adds the INVITE's final response code (and its Call-ID).
            extra["DialSipResponseCode"] = _SIP_CODES.get(result, "500")
            extra["DialSipCallId"] = f"{(winner or legs[-1]).sid}@sim.twilio.invalid"
    if winner is not None:
        extra["DialCallDuration"] = str(winner.duration())
    if el.get("action"):
        runner.action(el.get("action"), el.get("method"), extra)


_SIP_CODES = {"completed": "200", "busy": "486", "no-answer": "480", "failed": "503", "canceled": "487"}


def _bare_number(el):
    import xml.etree.ElementTree as ET

    noun = ET.Element("Number")
    noun.text = text(el)
    return noun


def _bridge(runner, el, leg):
    """Connect the caller and the leg until one hangs up, timeLimit passes, or '*' with hangupOnStar."""
    sim, call = runner.sim, runner.call
    runner.answer()
    with call.cv:
        call.bridged_with = leg.sid
        call.activity = "bridged"
        hangup_on_star = boolean(el.get("hangupOnStar"))
        call.accepting_digits = hangup_on_star
        call.digits = ""
    with leg.cv:
        leg.bridged_with = call.sid
        leg.activity = "bridged"
    sim.event(call, "bridged", to=leg.sid)
    sim.event(leg, "bridged", to=call.sid)
    leg_entry = sim.hear(leg, "bridged", seconds=0.0, **{"with": call.from_})
    start = time.monotonic()
    try:
        runner.listen("bridged", integer(el.get("timeLimit"), 14400),
                      lambda: leg.ended or leg.hangup_reason is not None or (hangup_on_star and "*" in call.digits),
                      **{"with": leg.to})
    finally:
        leg_entry["seconds"] = round(time.monotonic() - start, 3)
