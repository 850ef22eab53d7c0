"""Schemas of the listing and event endpoints: the query strings they accept and the JSON they answer.

The same classes validate each request (422 naming the field) and describe it in /api/openapi.json.
"""
from __future__ import annotations

import re
from datetime import timezone

from flask import request
from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from handoff.feed_hub import stream_id
from handoff.listing import ACTIVE
from handoff.state import Outcome, TransferStatus

from .schemas import CALL_SID, MODES, Text

MAX_LIMIT = 200
CALL_STATUSES = ["queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
                 "canceled"]

ID_PATTERN = r"^\d{1,20}(-\d{1,20})?$"
_SPLIT = re.compile(r"\s*,\s*")


def EVENT_ID(value: str) -> bool:
    """A stream event id such as 1700000000000-0 (each half an unsigned 64-bit number)."""
    try:
        stream_id(value)
    except ValueError:
        raise ValidationError("must be a stream event id such as 1700000000000-0") from None
    return True



def Choices(values: list[str], description: str) -> fields.List:
    """A filter that takes one or more values: `?status=a&status=b` or `?status=a,b`."""

    def known(items: list[str]) -> None:
        bad = [item for item in items if item not in values]
        if bad:     # named by the parameter, not by its position in the list
            raise ValidationError(f"{bad[0]!r} is not one of: {', '.join(values)}")
        if len(items) > len(values):
            raise ValidationError(f"at most {len(values)} values")

    return fields.List(Text(max_length=64, metadata={"enum": values}), load_default=list, validate=known,
                       metadata={"description": description})


def Instant(description: str) -> fields.AwareDateTime:
    """An ISO 8601 time; without an offset it is UTC."""
    return fields.AwareDateTime(load_default=None, default_timezone=timezone.utc,
                                metadata={"description": description})


class _Query(Schema):
    """A query string: unknown parameters are refused (a misspelt filter must not silently match all)."""

    class Meta:
        unknown = RAISE

    @pre_load
    def _split_lists(self, data, **kwargs):
        out = dict(data)
        for name, field in self.fields.items():
            key = field.data_key or name
            if isinstance(field, fields.List) and key in out:
                values = out[key] if isinstance(out[key], list) else [out[key]]
                out[key] = [part for value in values for part in _SPLIT.split(str(value).strip()) if part]
        return out


def query_args(schema: Schema) -> dict:
    """The request's query string as the schema wants it: every value of list fields, one of the others."""
    lists = {f.data_key or n for n, f in schema.fields.items() if isinstance(f, fields.List)}
    return {key: request.args.getlist(key) if key in lists else request.args.get(key) for key in request.args}


class PagedQuery(_Query):
    """A page of a time-ordered listing: its size, where it starts, and a time window."""

    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT),
                       metadata={"description": f"Items per page (1 to {MAX_LIMIT})."})
    cursor = Text(load_default=None, validate=validate.Length(min=1, max=400),
                  metadata={"description": "The `next_cursor` of the previous page."})
    since = Instant("Only items created at or after this time (ISO 8601).")
    until = Instant("Only items created before this time (ISO 8601).")


class PageQuery(PagedQuery):
    outcome = Choices([o.value for o in Outcome], "Keep these outcomes (repeat the parameter or separate with commas).")
    mode = Choices(MODES, "Keep these modes.")
    recipient = Text(load_default=None, validate=validate.Length(min=1, max=256),
                     metadata={"description": "A recipient's name or address anywhere in the plan, "
                                              "or the requested `to`."})


class TransferQuery(PageQuery):
    """GET /api/transfers."""

    status = Choices([s.value for s in TransferStatus] + [ACTIVE],
                     "Keep these statuses; `active` is every status but `completed`.")
    call_sid = Text(load_default=None, validate=CALL_SID, metadata={"description": "Only this call's transfers."})


class CallQuery(PageQuery):
    """GET /api/calls (outcome, mode and recipient keep calls that have a matching transfer)."""

    status = Choices(CALL_STATUSES + [ACTIVE], "Keep calls in these Twilio call statuses; `active`: not ended.")
    call_sid = Text(load_default=None, validate=CALL_SID, metadata={"description": "Only this call."})


class EventsQuery(_Query):
    """GET /api/transfers/{id}/events and GET /api/events (JSON, or a stream with Accept: text/event-stream)."""

    after = Text(load_default=None, validate=EVENT_ID, max_length=41, metadata={
        "pattern": ID_PATTERN, "description": "Only events after this event id (JSON answers)."})
    last_event_id = Text(load_default=None, validate=EVENT_ID, max_length=41, metadata={
        "pattern": ID_PATTERN, "description": "Resume a stream after this id (as the Last-Event-ID header)."})
    limit = fields.Int(load_default=None, validate=validate.Range(min=1, max=500),
                       metadata={"description": "At most this many events (JSON answers; default 500, or the "
                                                "newest 100 of the feed without `after`)."})
    stream = fields.Bool(load_default=False, metadata={"description": "Answer a Server-Sent Events stream "
                                                                      "(as Accept: text/event-stream does)."})


# --- what the listings answer -------------------------------------------------------------------

class TransferSummarySchema(Schema):
    """A transfer in a list (GET /api/transfers/{id} has every detail and the timeline)."""

    class Meta:
        unknown = EXCLUDE
        ordered = True

    id = fields.String(required=True)
    call_sid = fields.String(required=True)
    mode = fields.String(required=True, metadata={"enum": MODES})
    status = fields.String(required=True, metadata={"enum": [s.value for s in TransferStatus]})
    outcome = fields.String(allow_none=True, metadata={"enum": [o.value for o in Outcome] + [None]})
    outcome_detail = fields.String(allow_none=True, metadata={"description": "The outcome's reason, in words."})
    to = fields.String(metadata={"description": "What the request asked for (a recipient, `auto`, a number)."})
    destination = fields.String(allow_none=True, metadata={"description": "Who the current attempt dials."})
    attempt = fields.Int(metadata={"description": "The current attempt (0-based)."})
    attempts = fields.Int(metadata={"description": "Attempts in the plan."})
    recipients = fields.List(fields.String(), metadata={"description": "Every recipient the plan may reach."})
    rule = fields.String(allow_none=True)
    via = fields.String(allow_none=True, metadata={"description": "api, tool or handoff (the agent's HandoffData)."})
    reason = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class CallSummarySchema(Schema):
    """A call in a list, with its transfers (oldest first)."""

    class Meta:
        unknown = EXCLUDE
        ordered = True

    sid = fields.String(required=True)
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.String(allow_none=True)
    direction = fields.String(allow_none=True)
    sip = fields.Bool()
    status = fields.String(allow_none=True, metadata={"description": "Twilio's call status."})
    created_at = fields.String(allow_none=True)
    ended_at = fields.String(allow_none=True)
    active_transfer = fields.String(allow_none=True, metadata={"description": "The transfer in flight, if any."})
    transfers = fields.List(fields.Nested(TransferSummarySchema))


class _PageSchema(Schema):
    class Meta:
        ordered = True

    next_cursor = fields.String(allow_none=True, metadata={"description": "Pass as `cursor` for the next page; "
                                                                          "null on the last one."})
    last_event_id = fields.String(metadata={"description": "The feed's newest event id when the page was read: "
                                                           "resume GET /api/events after it to miss nothing."})


class TransferPageSchema(_PageSchema):
    items = fields.List(fields.Nested(TransferSummarySchema), required=True)


class CallPageSchema(_PageSchema):
    items = fields.List(fields.Nested(CallSummarySchema), required=True)


class EventSchema(Schema):
    """One lifecycle event: the standard fields, Twilio's evidence, then the event's own detail."""

    class Meta:
        unknown = INCLUDE
        ordered = True

    id = fields.String(required=True, metadata={"description": "Stream id: the SSE `id:` and Last-Event-ID."})
    event = fields.String(required=True, metadata={"description": "The type: requested, leg-ringing, bridged, "
                                                                  "completed, ..."})
    at = fields.String(required=True)
    transfer_id = fields.String(required=True)
    call_sid = fields.String(required=True)
    attempt = fields.Int(allow_none=True)
    leg = fields.String(allow_none=True)
    dial_status = fields.String(metadata={"description": "Twilio's DialCallStatus."})
    call_status = fields.String(metadata={"description": "Twilio's CallStatus."})
    sip_code = fields.String(metadata={"description": "The SIP response code."})
    answered_by = fields.String(metadata={"description": "Twilio's AnsweredBy (answering-machine detection)."})
    error_code = fields.String(metadata={"description": "Twilio's error code."})
    digits = fields.String(metadata={"description": "Keys the recipient pressed."})
    outcome = fields.String(metadata={"description": "On `completed` and `attempt-failed`."})

