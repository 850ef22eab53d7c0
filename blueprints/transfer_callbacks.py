"""Per-transfer Twilio callbacks: Dial/Refer actions, leg status, AMD, whisper, keys, conference."""
from __future__ import annotations

from flask import Blueprint, request

from .schemas import (AmdForm, CallbackQuery, CallStatusForm, ConferenceEventForm, DialActionForm, GatherForm,
                      ReferActionForm, TwilioForm)
from .security import twilio_signed
from .twiml_response import no_content, parse_form, service, twiml

bp = Blueprint("transfer_callbacks", __name__, url_prefix="/voice/transfers/<transfer_id>")

_query = CallbackQuery()
_dial = DialActionForm()
_refer = ReferActionForm()
_status = CallStatusForm()
_amd = AmdForm()
_gather = GatherForm()
_conference = ConferenceEventForm()
_plain = TwilioForm()


def _q() -> dict:
    return _query.load(request.args.to_dict(flat=True))


@bp.post("/dial-action")
@twilio_signed
def dial_action(transfer_id: str):
    """Cold transfer: Dial ended (bridged then hung up, or failed)."""
    form, q = parse_form(_dial), _q()
    return twiml(service().dial_action(transfer_id, q["attempt"], dial_status=form["dial_status"],
                                       dial_call_sid=form["dial_call_sid"], duration=form["duration"]))


@bp.post("/dial-status")
@twilio_signed
def dial_status(transfer_id: str):
    """Cold transfer: the dialed leg's status callbacks."""
    form, q = parse_form(_status), _q()
    service().dial_status(transfer_id, q["attempt"], leg_sid=form["call_sid"], call_status=form["call_status"],
                          sequence=form["sequence"])
    return no_content()


@bp.post("/refer-action")
@twilio_signed
def refer_action(transfer_id: str):
    """SIP REFER finished."""
    form, q = parse_form(_refer), _q()
    return twiml(service().refer_action(transfer_id, q["attempt"], refer_status=form["refer_status"],
                                        sip_code=form["sip_code"]))


@bp.post("/leg-status")
@twilio_signed
def leg_status(transfer_id: str):
    """Warm transfer: a recipient leg's status callbacks."""
    form, q = parse_form(_status), _q()
    service().leg_status(transfer_id, q["attempt"], leg_sid=form["call_sid"], call_status=form["call_status"],
                         sequence=form["sequence"])
    return no_content()


@bp.post("/leg-answer")
@twilio_signed
def leg_answer(transfer_id: str):
    """Warm transfer: a recipient leg answered (its Url)."""
    form, q = parse_form(_plain), _q()
    return twiml(service().leg_answered(transfer_id, q["attempt"], leg_sid=form["call_sid"], detect=q["detect"],
                                        detect_timeout=q["detect_timeout"], accept_timeout=q["accept_timeout"]))


@bp.post("/leg-amd")
@twilio_signed
def leg_amd(transfer_id: str):
    """Warm transfer: asynchronous answering-machine detection result."""
    form, q = parse_form(_amd), _q()
    service().leg_amd(transfer_id, q["attempt"], leg_sid=form["call_sid"], answered_by=form["answered_by"])
    return no_content()


@bp.post("/whisper")
@twilio_signed
def whisper(transfer_id: str):
    """Warm transfer: the whisper and press-a-key prompt for a human recipient."""
    form, q = parse_form(_plain), _q()
    return twiml(service().whisper(transfer_id, q["attempt"], leg_sid=form["call_sid"],
                                   accept_timeout=q["accept_timeout"]))


@bp.post("/key")
@twilio_signed
def key(transfer_id: str):
    """Warm transfer: the recipient's key press (or none)."""
    form, q = parse_form(_gather), _q()
    return twiml(service().key_pressed(transfer_id, q["attempt"], leg_sid=q["leg"] or form["call_sid"],
                                       digits=form["digits"], accept_key=q["accept_key"],
                                       decline_key=q["decline_key"], accept_timeout=q["accept_timeout"]))


@bp.post("/conference")
@twilio_signed
def conference(transfer_id: str):
    """Warm transfer: conference status callbacks."""
    form = parse_form(_conference)
    service().conference_event(transfer_id, event=form["event"], label=form["label"],
                               conference_sid=form["conference_sid"], call_sid=form["call_sid"],
                               sequence=form["sequence"])
    return no_content()


@bp.post("/caller-left")
@twilio_signed
def caller_left(transfer_id: str):
    """Warm transfer: the caller's conference Dial ended (the recipient left, or the conference ended)."""
    parse_form(_plain)
    return twiml(service().caller_left_conference(transfer_id))


@bp.post("/hold")
@twilio_signed
def hold(transfer_id: str):
    """Warm transfer: the conference waitUrl (hold music or message)."""
    return twiml(service().hold_twiml(transfer_id))


@bp.post("/announcement")
@twilio_signed
def announcement(transfer_id: str):
    """Warm transfer: what the conference hears when the bridge is announced."""
    return twiml(service().announcement_twiml(transfer_id))


@bp.post("/voicemail")
@twilio_signed
def voicemail(transfer_id: str):
    """Last resort: the caller's recorded message arrived."""
    from twiml import say_and_hangup

    service().store.append_event(transfer_id, {"event": "voicemail-recorded",
                                               "recording_url": request.form.get("RecordingUrl")})
    return twiml(say_and_hangup(message="Thank you. We will call you back. Goodbye."))
