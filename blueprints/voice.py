"""Twilio webhooks for the caller's own call: incoming, status, fallback, agent session end."""
from __future__ import annotations

from flask import Blueprint, current_app
from marshmallow import ValidationError

import twiml as documents
from handoff.transfer_request import TransferRequest

from .errors import flatten
from .form_loader import FormLoader
from .schemas import AgentEndedForm, CallStatusForm, IncomingCallForm, load_handoff_data
from .security import twilio_signed
from .twiml_response import no_content, parse_form, twiml

bp = Blueprint("voice", __name__, url_prefix="/voice")

_incoming = FormLoader(IncomingCallForm())
_status = FormLoader(CallStatusForm())
_agent_ended = FormLoader(AgentEndedForm())


def _calls():
    return current_app.extensions["handoff"].calls


@bp.post("/incoming")
@twilio_signed
def incoming():
    """A Twilio number's Voice URL: record the call, connect the caller to the AI agent."""
    form = parse_form(_incoming)
    return twiml(documents.render(_calls().incoming(call_sid=form["call_sid"], from_=form["from_"], to=form["to"],
                                                    direction=form["direction"], call_token=form["call_token"])))


@bp.post("/status")
@twilio_signed
def status():
    """Call status callbacks for the caller's call."""
    form = parse_form(_status)
    _calls().status(call_sid=form["call_sid"], status=form["call_status"])
    return no_content()


@bp.post("/agent-ended")
@twilio_signed
def agent_ended():
    """Connect's action: the agent session ended; HandoffData may ask for a transfer."""
    form = parse_form(_agent_ended)
    request, invalid = None, None
    try:
        wanted = load_handoff_data(form["handoff_data"])
        request = TransferRequest(**wanted) if wanted else None
    except ValidationError as exc:
        fields = flatten(exc.messages if isinstance(exc.messages, dict) else {"HandoffData": exc.messages})
        invalid = "HandoffData: " + "; ".join(f"{name} {', '.join(msgs)}" for name, msgs in sorted(fields.items()))
    return twiml(documents.render(_calls().agent_ended(call_sid=form["call_sid"], request=request, invalid=invalid)))


@bp.post("/fallback")
@twilio_signed
def fallback():
    """Twilio's fallback URL: a static apology that needs nothing (not even Redis) to render."""
    return twiml(documents.application_error())
