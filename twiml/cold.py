"""Cold (blind) transfer documents: <Dial> to a number, SIP URI or client, or SIP <Refer>."""
from __future__ import annotations

from twilio.twiml.voice_response import Dial, Refer, VoiceResponse

from handoff.transfer.decisions import Endpoint

from .common import clean

LEG_EVENTS = "initiated ringing answered completed"


def cold_dial(*, endpoint: Endpoint, action_url: str, status_callback_url: str, timeout: int,
              caller_id: str | None, message: str | None = None, pause_seconds: int = 0) -> str:
    """Say the hand-off message, then dial the endpoint; Dial's action reports how it went."""
    response = VoiceResponse()
    if message:
        response.say(clean(message))
    if pause_seconds:
        response.pause(length=pause_seconds)
    # answerOnBridge keeps the caller hearing ringback (not silence) until the far end answers.
    dial = Dial(action=action_url, method="POST", timeout=timeout, answer_on_bridge=True,
                **({"caller_id": caller_id} if caller_id and endpoint.kind != "client" else {}))
    callback = {"status_callback": status_callback_url, "status_callback_event": LEG_EVENTS,
                "status_callback_method": "POST"}
    if endpoint.kind == "number":
        dial.number(endpoint.address, send_digits=endpoint.send_digits or None, **callback)
    elif endpoint.kind == "sip":
        credentials = {"username": endpoint.username, "password": endpoint.password or ""} \
            if endpoint.username else {}
        dial.sip(endpoint.address, **credentials, **callback)
    elif endpoint.kind == "client":
        dial.client(endpoint.address.removeprefix("client:"), **callback)
    else:
        raise ValueError(f"cold_dial cannot dial a {endpoint.kind} endpoint")
    response.append(dial)
    return str(response)


def refer(*, endpoint: Endpoint, action_url: str, message: str | None = None) -> str:
    """Hand the SIP call back to the caller's SIP infrastructure with a REFER to the endpoint."""
    if endpoint.kind not in ("number", "sip"):
        raise ValueError(f"SIP REFER cannot reach a {endpoint.kind} endpoint")
    response = VoiceResponse()
    if message:
        response.say(clean(message))
    refer_verb = Refer(action=action_url, method="POST")
    # REFER to a number uses a tel: URI in the Refer-To header.
    refer_verb.sip(f"tel:{endpoint.address}" if endpoint.kind == "number" else endpoint.address)
    response.append(refer_verb)
    return str(response)
