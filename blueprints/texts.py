"""Twilio's SMS status callbacks for the texts Handoff sends (handoff/texts.py): signed, one Redis round trip."""
from __future__ import annotations

from flask import Blueprint, current_app
from marshmallow import EXCLUDE, Schema, validate

from handoff.texts import Texts

from .form_loader import FormLoader
from .schemas import CALL_SID, TRANSFER_ID_PATTERN, Text
from .security import twilio_signed
from .twilio_form import query_dict
from .twiml_response import load_twilio, no_content, parse_form

bp = Blueprint("texts", __name__, url_prefix="/twilio/texts")


class TextStatusQuery(Schema):
    """The query string handoff.callback_urls.text_status put on the callback (signed with the URL)."""

    class Meta:
        unknown = EXCLUDE

    transfer_id = Text(data_key="transfer", required=True, validate=validate.Regexp(TRANSFER_ID_PATTERN))
    purpose = Text(data_key="purpose", required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.:\-]{1,64}$"))
    call_sid = Text(data_key="c", required=True, validate=CALL_SID)


class MessageStatusForm(Schema):
    """A Message's status callback (Twilio: MessageSid, MessageStatus, ErrorCode when it failed)."""

    class Meta:
        unknown = EXCLUDE

    message_sid = Text(data_key="MessageSid", required=True,
                       validate=validate.Regexp(r"^(SM|MM)[0-9a-f]{32}$", error="must be a Twilio message SID"))
    message_status = Text(data_key="MessageStatus", required=True, max_length=32)
    error_code = Text(data_key="ErrorCode", load_default=None, max_length=16)
    account_sid = Text(data_key="AccountSid", required=True, max_length=64)


_query = FormLoader(TextStatusQuery())
_form = FormLoader(MessageStatusForm())


@bp.post("/status")
@twilio_signed
def status():
    """A text's delivery news: delivered, or undelivered with Twilio's ErrorCode (30006 landline...)."""
    form, q = parse_form(_form), load_twilio(_query, query_dict())
    Texts(current_app.extensions["handoff"].ctx).status(
        q["transfer_id"], q["call_sid"], q["purpose"], sid=form["message_sid"], status=form["message_status"],
        error_code=form["error_code"])
    return no_content()
