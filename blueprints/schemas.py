"""Marshmallow schemas for every body we accept: Twilio's webhook forms and the API's JSON."""
from __future__ import annotations

import re

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

CALL_SID = validate.Regexp(r"^CA[0-9a-f]{32}$", error="must be a Twilio call SID (CA + 32 hex digits)")


class TwilioForm(Schema):
    """Base for Twilio webhooks: Twilio sends many fields (and adds new ones); keep only ours."""

    class Meta:
        unknown = EXCLUDE

    call_sid = fields.Str(data_key="CallSid", required=True, validate=CALL_SID)
    account_sid = fields.Str(data_key="AccountSid", required=True)
    sequence = fields.Str(data_key="SequenceNumber", load_default=None)


class IncomingCallForm(TwilioForm):
    from_ = fields.Str(data_key="From", required=True)
    to = fields.Str(data_key="To", required=True)
    direction = fields.Str(data_key="Direction", load_default=None)
    call_status = fields.Str(data_key="CallStatus", load_default=None)


class CallStatusForm(TwilioForm):
    call_status = fields.Str(data_key="CallStatus", required=True)


class AgentEndedForm(TwilioForm):
    handoff_data = fields.Str(data_key="HandoffData", load_default=None)
    session_status = fields.Str(data_key="SessionStatus", load_default=None)


class DialActionForm(TwilioForm):
    dial_status = fields.Str(data_key="DialCallStatus", required=True)
    dial_call_sid = fields.Str(data_key="DialCallSid", load_default=None)
    duration = fields.Str(data_key="DialCallDuration", load_default=None)


class ReferActionForm(TwilioForm):
    refer_status = fields.Str(data_key="ReferCallStatus", load_default=None)
    sip_code = fields.Str(data_key="ReferSipResponseCode", load_default=None)


class AmdForm(TwilioForm):
    answered_by = fields.Str(data_key="AnsweredBy", required=True)


class GatherForm(TwilioForm):
    digits = fields.Str(data_key="Digits", load_default=None)


class ConferenceEventForm(Schema):
    """Conference status callbacks (CallSid is absent on conference-start/end)."""

    class Meta:
        unknown = EXCLUDE

    event = fields.Str(data_key="StatusCallbackEvent", required=True)
    conference_sid = fields.Str(data_key="ConferenceSid", load_default=None)
    call_sid = fields.Str(data_key="CallSid", load_default=None)
    label = fields.Str(data_key="ParticipantLabel", load_default=None)
    sequence = fields.Str(data_key="SequenceNumber", load_default=None)


class CallbackQuery(Schema):
    """Query string of our per-transfer callback URLs."""

    class Meta:
        unknown = EXCLUDE

    attempt = fields.Int(data_key="a", load_default=0, validate=validate.Range(min=0))
    leg = fields.Str(data_key="leg", load_default=None)
    # Delivery settings carried in warm-leg callback URLs (see handoff.callback_urls).
    detect = fields.Bool(data_key="hd", load_default=True)
    detect_timeout = fields.Int(data_key="dt", load_default=30, validate=validate.Range(min=1, max=600))
    accept_timeout = fields.Int(data_key="at", load_default=8, validate=validate.Range(min=1, max=600))
    accept_key = fields.Str(data_key="k", load_default="1", validate=validate.Regexp(r"^[0-9*#]$"))
    decline_key = fields.Str(data_key="d", load_default="2", validate=validate.Regexp(r"^[0-9*#]$"))


def _string_map(value):
    if not isinstance(value, dict):
        raise ValidationError("must be an object of names to values")
    for key, item in value.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}", str(key)):
            raise ValidationError(f"{key!r} is not a valid variable name")
        if isinstance(item, (dict, list)) or item is None:
            raise ValidationError(f"{key}: values must be strings, numbers or booleans")
        if len(str(item)) > 500:
            raise ValidationError(f"{key}: value longer than 500 characters")
    return True


class Turn(Schema):
    class Meta:
        unknown = EXCLUDE

    role = fields.Str(load_default="caller")
    text = fields.Str(required=True, validate=validate.Length(max=4000))


class ContextSchema(Schema):
    class Meta:
        unknown = RAISE

    transcript = fields.List(fields.Nested(Turn), load_default=list, validate=validate.Length(max=500))


class TransferRequestSchema(Schema):
    """POST /api/calls/{CallSid}/transfers."""

    class Meta:
        unknown = RAISE

    to = fields.Str(required=True, validate=validate.Length(min=1, max=256))
    mode = fields.Str(load_default=None, validate=validate.OneOf(["cold", "warm", "agent"]))
    message = fields.Str(load_default=None, validate=validate.Length(max=1000))
    reason = fields.Str(load_default=None, validate=validate.Length(max=500))
    summary = fields.Str(load_default=None, validate=validate.Length(max=2000))
    variables = fields.Dict(load_default=dict, validate=_string_map)
    final = fields.Bool(load_default=True)
    caller_id = fields.Str(load_default=None)
    timeout = fields.Int(load_default=None, validate=validate.Range(min=1, max=600))
    refer = fields.Bool(load_default=False)
    context = fields.Nested(ContextSchema, load_default=dict)


class VariablesSchema(Schema):
    """PUT /api/calls/{CallSid}/variables."""

    class Meta:
        unknown = RAISE

    variables = fields.Dict(required=True, validate=_string_map)


class ExplainSchema(Schema):
    """POST /api/routing/explain."""

    class Meta:
        unknown = RAISE

    to = fields.Str(load_default="auto")
    variables = fields.Dict(load_default=dict, validate=_string_map)
    call_sid = fields.Str(load_default=None, validate=CALL_SID)
    at = fields.AwareDateTime(load_default=None)


class ToolCallSchema(Schema):
    """POST /api/tools/transfer_call: what an agent platform sends for the tool."""

    class Meta:
        unknown = EXCLUDE

    call_sid = fields.Str(required=True, validate=CALL_SID)
    destination = fields.Str(required=True)
    reason = fields.Str(load_default=None)
    summary = fields.Str(load_default=None)
    mode = fields.Str(load_default=None, validate=validate.OneOf(["cold", "warm", "agent"]))
