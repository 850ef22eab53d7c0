"""Twilio webhooks for the caller's own call: incoming, status, fallback, agent session end."""
from __future__ import annotations

from flask import Blueprint

import twiml as documents

from .schemas import AgentEndedForm, CallStatusForm, IncomingCallForm
from .security import twilio_signed
from .twiml_response import no_content, parse_form, service, twiml

bp = Blueprint("voice", __name__, url_prefix="/voice")

_incoming = IncomingCallForm()
_status = CallStatusForm()
_agent_ended = AgentEndedForm()


@bp.post("/incoming")
@twilio_signed
def incoming():
    """A Twilio number's Voice URL: record the call, connect the caller to the AI agent."""
    form = parse_form(_incoming)
    return twiml(service().incoming_call(call_sid=form["call_sid"], from_=form["from_"], to=form["to"],
                                         direction=form["direction"]))


@bp.post("/status")
@twilio_signed
def status():
    """Call status callbacks for the caller's call."""
    form = parse_form(_status)
    service().call_status(call_sid=form["call_sid"], status=form["call_status"])
    return no_content()


@bp.post("/agent-ended")
@twilio_signed
def agent_ended():
    """Connect's action: the agent session ended; HandoffData may ask for a transfer."""
    form = parse_form(_agent_ended)
    return twiml(service().agent_session_ended(call_sid=form["call_sid"], handoff_data=form["handoff_data"],
                                               status=form["session_status"]))


@bp.post("/fallback")
@twilio_signed
def fallback():
    """Twilio's fallback URL: a static apology that needs nothing (not even Redis) to render."""
    return twiml(documents.application_error())
