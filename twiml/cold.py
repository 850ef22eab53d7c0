"""Cold (blind) transfer documents: <Dial> to a number, SIP URI or client, or SIP <Refer>."""
from __future__ import annotations

from handoff.transfer.decisions import Endpoint

from .xml import attr, document, element, say, text

LEG_EVENTS = "initiated ringing answered completed"
# answerOnBridge keeps the caller hearing ringback (not silence) until the far end answers.
_DIAL = '<Dial action="{action}" answerOnBridge="true"{caller_id} method="POST" timeout="{timeout}">{noun}</Dial>'
_CALLER_ID = ' callerId="{}"'
_CALLBACK = f' statusCallback="{{callback}}" statusCallbackEvent="{LEG_EVENTS}" statusCallbackMethod="POST"'
_NUMBER = ' sendDigits="{digits}"' + _CALLBACK
_SIP_CREDENTIALS = ' password="{password}"' + _CALLBACK + ' username="{username}"'
_PAUSE = '<Pause length="{}" />'
_REFER = '<Refer action="{action}" method="POST">{sip}</Refer>'


def cold_dial(*, endpoint: Endpoint, action_url: str, status_callback_url: str, timeout: int,
              caller_id: str | None, message: str | None = None, pause_seconds: int = 0) -> str:
    """Say the hand-off message, then dial the endpoint; Dial's action reports how it went."""
    callback = attr(status_callback_url)
    if endpoint.kind == "number":
        attrs = _NUMBER.format(digits=attr(endpoint.send_digits), callback=callback) if endpoint.send_digits \
            else _CALLBACK.format(callback=callback)
        noun = element("Number", text(endpoint.address), attrs)
    elif endpoint.kind == "sip":
        attrs = _SIP_CREDENTIALS.format(password=attr(endpoint.password or ""), callback=callback,
                                        username=attr(endpoint.username)) if endpoint.username \
            else _CALLBACK.format(callback=callback)
        noun = element("Sip", text(endpoint.address), attrs)
    elif endpoint.kind == "client":
        noun = element("Client", text(endpoint.address.removeprefix("client:")), _CALLBACK.format(callback=callback))
    else:
        raise ValueError(f"cold_dial cannot dial a {endpoint.kind} endpoint")
    dial = _DIAL.format(action=attr(action_url), timeout=attr(timeout), noun=noun,
                        caller_id=_CALLER_ID.format(attr(caller_id)) if caller_id and endpoint.kind != "client"
                        else "")
    return document(say(message) if message else "", _PAUSE.format(attr(pause_seconds)) if pause_seconds else "",
                    dial)


def refer(*, endpoint: Endpoint, action_url: str, message: str | None = None) -> str:
    """Hand the SIP call back to the caller's SIP infrastructure with a REFER to the endpoint."""
    if endpoint.kind not in ("number", "sip"):
        raise ValueError(f"SIP REFER cannot reach a {endpoint.kind} endpoint")
    # REFER to a number uses a tel: URI in the Refer-To header.
    target = f"tel:{endpoint.address}" if endpoint.kind == "number" else endpoint.address
    return document(say(message) if message else "",
                    _REFER.format(action=attr(action_url), sip=element("Sip", text(target))))
