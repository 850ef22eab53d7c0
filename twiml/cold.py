"""Cold (blind) transfer documents: <Dial> to a number, SIP URI or client, or SIP <Refer>."""
from __future__ import annotations

from twilio.twiml.voice_response import Dial, Refer, VoiceResponse

from handoff.destinations import sip_uri_with_headers
from handoff.targets import Target, TargetKind

LEG_EVENTS = "initiated ringing answered completed"


def cold_dial(*, target: Target, action_url: str, status_callback_url: str, timeout: int,
              caller_id: str | None, message: str | None = None, pause_seconds: int = 0) -> str:
    """Say the hand-off message, then dial the target; Dial's action reports how it went."""
    response = VoiceResponse()
    if message:
        response.say(message)
    if pause_seconds:
        response.pause(length=pause_seconds)
    # answerOnBridge keeps the caller hearing ringback (not silence) until the far end answers.
    dial = Dial(action=action_url, method="POST", timeout=timeout, answer_on_bridge=True,
                **({"caller_id": caller_id} if caller_id and target.kind is not TargetKind.CLIENT else {}))
    callback = {"status_callback": status_callback_url, "status_callback_event": LEG_EVENTS,
                "status_callback_method": "POST"}
    if target.kind is TargetKind.NUMBER:
        dial.number(target.address, send_digits=target.send_digits or None, **callback)
    elif target.kind is TargetKind.SIP:
        credentials = {}
        if target.sip_username:
            credentials = {"username": target.sip_username, "password": target.sip_password or ""}
        dial.sip(sip_uri_with_headers(target), **credentials, **callback)
    elif target.kind is TargetKind.CLIENT:
        identity = target.address.removeprefix("client:")
        dial.client(identity, **callback)
    else:
        raise ValueError(f"cold_dial cannot dial a {target.kind.value} target")
    response.append(dial)
    return str(response)


def refer(*, target: Target, action_url: str, message: str | None = None) -> str:
    """Hand the SIP call back to the caller's SIP infrastructure with a REFER to the target."""
    response = VoiceResponse()
    if message:
        response.say(message)
    refer_verb = Refer(action=action_url, method="POST")
    address = target.address
    if target.kind is TargetKind.NUMBER:
        address = f"tel:{target.address}"    # REFER to a number uses a tel: URI in the Refer-To header
    elif target.kind is TargetKind.SIP:
        address = sip_uri_with_headers(target)
    refer_verb.sip(address)
    response.append(refer_verb)
    return str(response)
