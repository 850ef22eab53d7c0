"""Marshmallow schemas for every body we accept: Twilio's webhook forms, the API's JSON, HandoffData.

Every string goes through `Text`, which refuses what Redis, XML or a phone call cannot carry:
lone UTF-16 surrogates (redis-py cannot encode them), NUL and other control characters (TwiML
would not be well-formed XML), and U+FFFE/U+FFFF.
"""
from __future__ import annotations

import math
import re

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from handoff.routing.hours import check_instant

CALL_SID = validate.Regexp(r"^CA[0-9a-f]{32}$", error="must be a Twilio call SID (CA + 32 hex digits)")
TRANSFER_ID_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"   # ours are "tr_" + hex: anything else cannot exist
MAX_VARIABLES = 50
MODES = ["cold", "warm", "agent"]

# Allowed in free text (a message, a summary, a transcript turn) but never in a name or a number.
_LINE_BREAKS = "\t\n\r"
_BAD_CHAR_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
_BAD_LINE_CHAR_RE = re.compile("[\x00-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` cannot be stored or spoken, or None when it is fine."""
    match = (_BAD_CHAR_RE if multiline else _BAD_LINE_CHAR_RE).search(value)
    if match is None:
        return None
    char = match.group(0)
    if "\ud800" <= char <= "\udfff":
        return "contains a lone UTF-16 surrogate (not valid Unicode text)"
    return f"contains the control character U+{ord(char):04X}"


class Text(fields.String):
    """The one string field: refuses surrogates and control characters (line breaks only if multiline)."""

    def __init__(self, *, multiline: bool = False, max_length: int | None = None, **kwargs):
        if max_length is not None:
            extra = validate.Length(max=max_length)
            given = kwargs.get("validate")
            kwargs["validate"] = [extra] + (list(given) if isinstance(given, (list, tuple)) else
                                            [given] if given else [])
        super().__init__(**kwargs)
        self.multiline = multiline

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        value = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(value, multiline=self.multiline)
        if problem:
            raise ValidationError(problem)
        return value


def _variables(value) -> bool:
    """A flat map of at most MAX_VARIABLES names to strings, numbers or booleans."""
    if not isinstance(value, dict):
        raise ValidationError("must be an object of names to values")
    if len(value) > MAX_VARIABLES:
        raise ValidationError(f"at most {MAX_VARIABLES} variables, got {len(value)}")
    for key, item in value.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}", str(key)):
            raise ValidationError(f"{key!r} is not a valid variable name (letters, digits, '_.-', max 64)")
        if isinstance(item, (dict, list)) or item is None:
            raise ValidationError(f"{key}: values must be strings, numbers or booleans")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValidationError(f"{key}: numbers must be finite")
        text = item if isinstance(item, str) else str(item)
        if len(text) > 500:
            raise ValidationError(f"{key}: value longer than 500 characters")
        problem = text_problem(text, multiline=True)
        if problem:
            raise ValidationError(f"{key}: value {problem}")
    return True


def Variables(**kwargs) -> fields.Dict:
    """The `variables` field of every body (request, call, explain, HandoffData)."""
    return fields.Dict(validate=_variables, **kwargs)


def stringify(variables) -> dict[str, str]:
    """Variable values as strings; JSON booleans become "true"/"false" (as written in YAML rules)."""
    return {str(k): ("true" if v is True else "false" if v is False else str(v))
            for k, v in (variables or {}).items()}


def _in_range(value) -> bool:
    try:
        check_instant(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    return True


def Instant(description: str, **kwargs) -> fields.AwareDateTime:
    """An `at` field: ISO 8601 with a UTC offset (or Z), within the years routing can evaluate."""
    return fields.AwareDateTime(
        load_default=None, validate=_in_range, metadata={"description": description},
        error_messages={"invalid": "must be an ISO 8601 date and time, e.g. 2026-11-23T10:00:00-05:00",
                        "invalid_awareness": "needs a UTC offset, e.g. 2026-11-23T10:00:00-05:00"}, **kwargs)


# A request's own time is a local-mode testing knob (handoff/clock.py); the service refuses it otherwise.
TRANSFER_AT = "Local mode only (HANDOFF_LOCAL=1): route as if it were this time; it then runs with real time."


# --- Twilio's webhook forms --------------------------------------------------------------------

class TwilioForm(Schema):
    """Base for Twilio webhooks: Twilio sends many fields (and adds new ones); keep only ours."""

    class Meta:
        unknown = EXCLUDE

    call_sid = Text(data_key="CallSid", required=True, validate=CALL_SID)
    account_sid = Text(data_key="AccountSid", required=True, max_length=64)
    sequence = Text(data_key="SequenceNumber", load_default=None, max_length=32)


class IncomingCallForm(TwilioForm):
    from_ = Text(data_key="From", required=True, max_length=2048)
    to = Text(data_key="To", required=True, max_length=2048)
    direction = Text(data_key="Direction", load_default=None, max_length=64)
    call_status = Text(data_key="CallStatus", load_default=None, max_length=64)
    # Lets a calls.create leg present the caller's number (warm legs with caller_id: caller).
    call_token = Text(data_key="CallToken", load_default=None, max_length=8192)


class CallStatusForm(TwilioForm):
    call_status = Text(data_key="CallStatus", required=True, max_length=64)


class AgentEndedForm(TwilioForm):
    handoff_data = Text(data_key="HandoffData", load_default=None, multiline=True)
    session_status = Text(data_key="SessionStatus", load_default=None, max_length=64)


class DialActionForm(TwilioForm):
    dial_status = Text(data_key="DialCallStatus", required=True, max_length=64)
    dial_call_sid = Text(data_key="DialCallSid", load_default=None, max_length=64)
    duration = Text(data_key="DialCallDuration", load_default=None, max_length=32)
    sip_code = Text(data_key="DialSipResponseCode", load_default=None, max_length=16)   # <Dial><Sip> only


class ReferActionForm(TwilioForm):
    refer_status = Text(data_key="ReferCallStatus", load_default=None, max_length=64)
    sip_code = Text(data_key="ReferSipResponseCode", load_default=None, max_length=16)


class GatherForm(TwilioForm):
    digits = Text(data_key="Digits", load_default=None, max_length=64)


class ConferenceEventForm(Schema):
    """Conference status callbacks (CallSid is absent on conference-start/end)."""

    class Meta:
        unknown = EXCLUDE

    event = Text(data_key="StatusCallbackEvent", required=True, max_length=64)
    conference_sid = Text(data_key="ConferenceSid", load_default=None, max_length=64)
    call_sid = Text(data_key="CallSid", load_default=None, max_length=64)
    label = Text(data_key="ParticipantLabel", load_default=None, max_length=256)
    sequence = Text(data_key="SequenceNumber", load_default=None, max_length=32)


# --- the API's JSON bodies ---------------------------------------------------------------------

class Turn(Schema):
    class Meta:
        unknown = EXCLUDE

    role = Text(load_default="caller", max_length=32)
    text = Text(required=True, multiline=True, max_length=4000)


class ContextSchema(Schema):
    class Meta:
        unknown = RAISE

    transcript = fields.List(fields.Nested(Turn), load_default=list, validate=validate.Length(max=500))


class SmsSchema(Schema):
    """`sms`: texts to the caller (handoff/texts.py), each a template with placeholders; overrides the recipient's."""

    class Meta:
        unknown = RAISE

    before = Text(load_default=None, multiline=True, validate=validate.Length(min=1, max=1000))
    success = Text(load_default=None, multiline=True, validate=validate.Length(min=1, max=1000))
    failure = Text(load_default=None, multiline=True, validate=validate.Length(min=1, max=1000))


class TransferFields(Schema):
    """What any request for a transfer may say, however it arrives (the API, or HandoffData)."""

    to = Text(required=True, validate=validate.Length(min=1, max=256))
    mode = Text(load_default=None, validate=validate.OneOf(MODES))
    message = Text(load_default=None, multiline=True, max_length=1000)
    reason = Text(load_default=None, multiline=True, max_length=500)
    summary = Text(load_default=None, multiline=True, max_length=2000)
    variables = Variables(load_default=dict)
    final = fields.Bool(load_default=True)
    refer = fields.Bool(load_default=False)
    at = Instant(TRANSFER_AT)


class TransferRequestSchema(TransferFields):
    """POST /api/calls/{CallSid}/transfers."""

    class Meta:
        unknown = RAISE

    caller_id = Text(load_default=None, max_length=64)
    timeout = fields.Int(load_default=None, validate=validate.Range(min=1, max=600))
    card = fields.Bool(load_default=None, allow_none=True)   # text the warm recipient a hand-off card
    context = fields.Nested(ContextSchema, load_default=dict)
    sms = fields.Nested(SmsSchema, load_default=None)   # texts to the caller: before, success, failure


class VariablesSchema(Schema):
    """PUT /api/calls/{CallSid}/variables."""

    class Meta:
        unknown = RAISE

    variables = Variables(required=True)


class ExplainSchema(Schema):
    """POST /api/routing/explain."""

    class Meta:
        unknown = RAISE

    to = Text(load_default="auto", validate=validate.Length(min=1, max=256))
    variables = Variables(load_default=dict)
    call_sid = Text(load_default=None, validate=CALL_SID)
    at = Instant("Evaluate at this time (default: the service's clock).")


class ToolCallSchema(Schema):
    """POST /api/tools/transfer_call: what an agent platform sends for the tool."""

    class Meta:
        unknown = EXCLUDE

    call_sid = Text(required=True, validate=CALL_SID)
    destination = Text(required=True, validate=validate.Length(min=1, max=256))
    reason = Text(load_default=None, multiline=True, max_length=500)
    summary = Text(load_default=None, multiline=True, max_length=2000)
    mode = Text(load_default=None, validate=validate.OneOf(MODES))
    sms = Text(load_default=None, multiline=True, validate=validate.Length(min=1, max=1000))   # texted first
    at = Instant(TRANSFER_AT)    # accepted, never offered to the LLM (handoff/routing/tools.py)


class IdempotencyKeySchema(Schema):
    """The Idempotency-Key header (1 to 255 printable characters)."""

    key = Text(data_key="Idempotency-Key", load_default=None, validate=validate.Length(min=1, max=255))


# --- ConversationRelay's HandoffData -----------------------------------------------------------

class HandoffDataSchema(TransferFields):
    """The transfer an agent asks for when it ends its ConversationRelay session.

    {"transfer": {...}} or the same keys at the top level; "destination" is another name for "to".
    Agents add keys of their own: unknown ones are ignored.
    """

    class Meta:
        unknown = EXCLUDE

    transcript = fields.List(fields.Nested(Turn), load_default=list, validate=validate.Length(max=500))

    @pre_load
    def _destination_alias(self, data, **kwargs):
        if isinstance(data, dict) and data.get("to") is None and "destination" in data:
            data = {**data, "to": data["destination"]}
        return data


_handoff_data = HandoffDataSchema()


def load_handoff_data(raw: str | None) -> dict | None:
    """The transfer HandoffData asks for, as TransferRequest keyword arguments, or None if it asks for none.

    None: no HandoffData, not JSON, not an object, `"transfer": null|false`, or no "transfer" key
    and no "to"/"destination" at the top level. Raises ValidationError (messages keyed by the
    field, e.g. {"reason": [...]}) when it asks for a transfer with bad fields.
    """
    if raw is None or not raw.strip():
        return None
    from .body import parse_json

    try:
        data = parse_json(raw)
    except ValueError:
        return None     # a plain-text HandoffData is the agent's own business, not a transfer
    if not isinstance(data, dict):
        return None
    if "transfer" in data:
        spec = data["transfer"]
        if spec is None or spec is False:
            return None
        if not isinstance(spec, dict):
            raise ValidationError({"transfer": ["must be an object with at least 'to'"]})
        # Older agents put reason and transcript next to "transfer": keep reading them there.
        spec = {**{k: data[k] for k in ("reason", "transcript") if k in data and k not in spec}, **spec}
    elif "to" in data or "destination" in data:
        spec = data
    else:
        return None
    loaded = _handoff_data.load(spec)
    return {"to": loaded["to"], "mode": loaded["mode"], "message": loaded["message"],
            "reason": loaded["reason"], "summary": loaded["summary"],
            "variables": stringify(loaded["variables"]), "final": loaded["final"], "refer": loaded["refer"],
            "context": {"transcript": loaded["transcript"]}, "at": loaded["at"]}


__all__ = ["CALL_SID", "MAX_VARIABLES", "TRANSFER_ID_PATTERN", "AgentEndedForm", "CallStatusForm",
           "ConferenceEventForm", "DialActionForm", "ExplainSchema", "GatherForm", "HandoffDataSchema",
           "IdempotencyKeySchema", "IncomingCallForm", "ReferActionForm", "Text", "ToolCallSchema",
           "TransferRequestSchema", "TwilioForm", "VariablesSchema", "load_handoff_data", "stringify",
           "text_problem"]
