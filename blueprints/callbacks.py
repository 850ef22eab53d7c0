"""Callback offers: the offer's action (a Twilio webhook) and GET /api/callbacks (handoff/callbacks.py)."""
from __future__ import annotations

from flask import Blueprint, current_app
from marshmallow import EXCLUDE, Schema, fields

import twiml as documents
from handoff.callbacks import Callbacks

from .api_listing import _answer, read_page
from .callback_schemas import TransferCallbackQuery
from .form_loader import FormLoader
from .listing_schemas import Instant, PagedQuery, _PageSchema
from .openapi import doc
from .schemas import GatherForm, Text
from .security import bearer_token, twilio_signed
from .twilio_form import query_dict
from .twiml_response import load_twilio, parse_form, twiml

bp = Blueprint("callbacks", __name__)


class OfferQuery(TransferCallbackQuery):
    """The offer's action URL: `s=1` when a confirmation text is due (handoff.callbacks.offer)."""

    text = fields.Bool(data_key="s", load_default=False)


class OfferAnswerForm(GatherForm):
    """<Gather input="dtmf speech">'s action: Digits, or what the caller said and how sure Twilio is."""

    speech = Text(data_key="SpeechResult", load_default=None, max_length=1024)
    confidence = Text(data_key="Confidence", load_default=None, max_length=32)


class CallbackQuery(PagedQuery):
    """GET /api/callbacks."""

    since = Instant("Only requests taken at or after this time (ISO 8601).")
    until = Instant("Only requests taken before this time (ISO 8601).")


class CallbackRequestSchema(Schema):
    """A caller's request to be called back, taken at a callback offer."""

    class Meta:
        unknown = EXCLUDE
        ordered = True

    id = fields.String(required=True)
    number = fields.String(metadata={"description": "The caller's number (the call's From): call them back here."})
    called = fields.String(metadata={"description": "The number the caller called (the call's To)."})
    variables = fields.Dict(keys=fields.String(), metadata={"description": "The call's and the transfer's variables."})
    reason = fields.String(metadata={"description": "Why the transfer was asked for."})
    outcome = fields.String(metadata={"description": "How the transfer ended."})
    detail = fields.String(metadata={"description": "Why it ended so (e.g. nobody can take this call now ...)."})
    to = fields.String(metadata={"description": "What the transfer asked for."})
    transfer_id = fields.String()
    call_sid = fields.String()
    requested_at = fields.String()
    digits = fields.String(metadata={"description": "The key pressed, if any."})
    speech = fields.String(metadata={"description": "What the caller said, if they answered by voice."})


class CallbackPageSchema(_PageSchema):
    items = fields.List(fields.Nested(CallbackRequestSchema), required=True)


_query, _form, _list_query, _page = FormLoader(OfferQuery()), FormLoader(OfferAnswerForm()), CallbackQuery(), \
    CallbackPageSchema()


def _callbacks() -> Callbacks:
    runtime = current_app.extensions["handoff"]
    return Callbacks(runtime.ctx, runtime.lifecycle)


def _confidence(value: str | None) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0.0 <= number <= 1.0 else None


@bp.post("/voice/transfers/<transfer_id>/callback")
@twilio_signed
def answer(transfer_id: str):
    """The caller's answer to a callback offer: 1 (or yes) records the request; anything else: the agent."""
    form, q = parse_form(_form), load_twilio(_query, query_dict())
    return twiml(documents.render(_callbacks().answer(
        transfer_id, q["call_sid"], digits=form["digits"], speech=form["speech"],
        confidence=_confidence(form["confidence"]), text=q["text"])))


@bp.get("/api/callbacks")
@bearer_token
@doc(query=CallbackQuery, response=CallbackPageSchema, tags=["callbacks"])
def list_callbacks():
    """Callback requests callers took at a callback offer, newest first (kept 30 days).

    Each has the caller's number, the variables and the reason; `next_cursor` asks for the next page.
    """
    page, last_event_id = read_page(_list_query, _callbacks().listing)
    return _answer(page, _page, last_event_id)
