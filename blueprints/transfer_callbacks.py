"""Per-transfer Twilio callbacks: Dial/Refer actions, leg status and answer, consent, keys, conference."""
from __future__ import annotations

from flask import Blueprint, current_app

import twiml as documents

from .callback_schemas import LegAnswerForm, RecordingForm, TransferCallbackQuery
from .form_loader import FormLoader
from .schemas import CallStatusForm, ConferenceEventForm, DialActionForm, GatherForm, ReferActionForm, TwilioForm
from .security import twilio_signed
from .twilio_form import query_dict
from .twiml_response import load_twilio, no_content, parse_form, twiml

bp = Blueprint("transfer_callbacks", __name__, url_prefix="/voice/transfers/<transfer_id>")

_query = FormLoader(TransferCallbackQuery())
_dial = FormLoader(DialActionForm())
_refer = FormLoader(ReferActionForm())
_status = FormLoader(CallStatusForm())
_answer = FormLoader(LegAnswerForm())
_gather = FormLoader(GatherForm())
_conference = FormLoader(ConferenceEventForm())
_recording = FormLoader(RecordingForm())
_plain = FormLoader(TwilioForm())


def _q() -> dict:
    return load_twilio(_query, query_dict())


def _rt():
    return current_app.extensions["handoff"]


def _doc(decision):
    return twiml(documents.render(decision))


def _keys(q: dict) -> dict:
    return {"accept_timeout": q["accept_timeout"], "accept_key": q["accept_key"], "decline_key": q["decline_key"]}


@bp.post("/dial-action")
@twilio_signed
def dial_action(transfer_id: str):
    """Cold transfer: Dial ended (bridged then hung up, or failed)."""
    form, q = parse_form(_dial), _q()
    return _doc(_rt().cold.dial_action(transfer_id, q["call_sid"], q["attempt"], dial_status=form["dial_status"],
                                       dial_call_sid=form["dial_call_sid"], duration=form["duration"],
                                       sip_code=form["sip_code"],
                                       ring_timeout=q["ring_timeout"], next_dynamic=q["next_dynamic"]))


@bp.post("/dial-status")
@twilio_signed
def dial_status(transfer_id: str):
    """Cold transfer: the dialed leg's status callbacks."""
    form, q = parse_form(_status), _q()
    _rt().cold.dial_status(transfer_id, q["call_sid"], q["attempt"], leg_sid=form["call_sid"],
                           call_status=form["call_status"])
    return no_content()


@bp.post("/refer-action")
@twilio_signed
def refer_action(transfer_id: str):
    """SIP REFER finished."""
    form, q = parse_form(_refer), _q()
    return _doc(_rt().cold.refer_action(transfer_id, q["call_sid"], q["attempt"], refer_status=form["refer_status"],
                                        sip_code=form["sip_code"], ring_timeout=q["ring_timeout"],
                                        next_dynamic=q["next_dynamic"]))


@bp.post("/leg-status")
@twilio_signed
def leg_status(transfer_id: str):
    """Warm transfer: a recipient leg's status callbacks."""
    form, q = parse_form(_status), _q()
    _rt().warm.leg_status(transfer_id, q["call_sid"], q["attempt"], leg_sid=form["call_sid"],
                          call_status=form["call_status"], detection_timeout=q["detection_timeout"],
                          ring_timeout=q["ring_timeout"])
    return no_content()


@bp.post("/leg-answer")
@twilio_signed
def leg_answer(transfer_id: str):
    """Warm transfer: a recipient leg answered; AnsweredBy is detection's verdict (if it ran)."""
    form, q = parse_form(_answer), _q()
    return _doc(_rt().warm.leg_answer(transfer_id, q["call_sid"], q["attempt"], leg_sid=form["call_sid"],
                                      answered_by=form["answered_by"], screen_window=q["screen_window"],
                                      direct=q["direct"], **_keys(q)))


@bp.post("/consent")
@twilio_signed
def consent(transfer_id: str):
    """Warm transfer: the key pressed (or not) at the neutral prompt."""
    form, q = parse_form(_gather), _q()
    return _doc(_rt().warm.consent(transfer_id, q["call_sid"], q["attempt"], leg_sid=q["leg"] or form["call_sid"],
                                   digits=form["digits"], screen_window=q["screen_window"], **_keys(q)))


@bp.post("/key")
@twilio_signed
def key(transfer_id: str):
    """Warm transfer: the recipient's key press after the whisper (or none)."""
    form, q = parse_form(_gather), _q()
    return _doc(_rt().warm.key_pressed(transfer_id, q["call_sid"], q["attempt"], leg_sid=q["leg"] or form["call_sid"],
                                       digits=form["digits"], **_keys(q)))


@bp.post("/conference")
@twilio_signed
def conference(transfer_id: str):
    """Warm transfer: conference status callbacks."""
    form, q = parse_form(_conference), _q()
    _rt().warm.conference_event(transfer_id, q["call_sid"], event=form["event"], label=form["label"],
                                conference_sid=form["conference_sid"], participant=form["call_sid"],
                                sequence=form["sequence"])
    return no_content()


@bp.post("/caller-left")
@twilio_signed
def caller_left(transfer_id: str):
    """Warm transfer: the caller's conference Dial ended (the recipient left, or the conference ended)."""
    parse_form(_plain)
    q = _q()
    return _doc(_rt().warm.caller_left(transfer_id, q["call_sid"]))


@bp.post("/hold")
@twilio_signed
def hold(transfer_id: str):
    """What a waiting caller hears: the conference waitUrl, or the hold while a worker prepares."""
    _q()
    return _doc(_rt().warm.hold_document(_rt().store.get_transfer(transfer_id)))


@bp.post("/announcement")
@twilio_signed
def announcement(transfer_id: str):
    """Warm transfer: what the conference hears when the bridge is announced."""
    return _doc(_rt().warm.announcement(transfer_id))


@bp.post("/voicemail")
@twilio_signed
def voicemail(transfer_id: str):
    """Last resort: the caller's recorded message arrived."""
    form, q = parse_form(_recording), _q()
    _rt().lifecycle.voicemail_recorded(transfer_id, q["call_sid"], form["recording_url"])
    return twiml(documents.say_and_hangup(message="Thank you. We will call you back. Goodbye."))
