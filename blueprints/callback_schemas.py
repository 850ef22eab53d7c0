"""Marshmallow schemas for the per-transfer callback URLs: our signed query string, and the forms."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from .schemas import CALL_SID, Text, TwilioForm

_KEY = validate.Regexp(r"^[0-9*#]$")


class TransferCallbackQuery(Schema):
    """The query string handoff.callback_urls put on a callback (Twilio signs it with the URL)."""

    class Meta:
        unknown = EXCLUDE

    call_sid = Text(data_key="c", required=True, validate=CALL_SID)
    attempt = fields.Int(data_key="a", load_default=0, validate=validate.Range(min=0, max=10_000))
    leg = Text(data_key="leg", load_default=None, max_length=64)
    ring_timeout = fields.Int(data_key="rt", load_default=30, validate=validate.Range(min=1, max=600))
    next_dynamic = fields.Bool(data_key="nd", load_default=False)   # a cold Dial's next attempt is dynamic
    detection_timeout = fields.Int(data_key="dt", load_default=0, validate=validate.Range(min=0, max=600))
    screen_window = fields.Int(data_key="sw", load_default=60, validate=validate.Range(min=1, max=3600))
    accept_timeout = fields.Int(data_key="at", load_default=8, validate=validate.Range(min=1, max=600))
    accept_key = Text(data_key="k", load_default="1", validate=_KEY)
    decline_key = Text(data_key="d", load_default="2", validate=_KEY)
    direct = fields.Bool(data_key="j", load_default=False)   # a warm leg that joins on answer (a cold step)


class LegAnswerForm(TwilioForm):
    """A recipient leg's Url request: synchronous detection's verdict rides along."""

    answered_by = Text(data_key="AnsweredBy", load_default=None, max_length=64)


class RecordingForm(TwilioForm):
    """<Record>'s action: the caller's message."""

    recording_url = Text(data_key="RecordingUrl", load_default=None, max_length=2048)
