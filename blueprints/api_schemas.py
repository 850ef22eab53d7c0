"""Schemas of what blueprints/api.py answers (for /api/openapi.json), and of the query strings it reads."""
from __future__ import annotations

from marshmallow import EXCLUDE, INCLUDE, Schema, fields

from handoff.state import Outcome, TransferStatus

from .listing_schemas import EventSchema
from .schemas import CALL_SID, MODES, Text

TOOL_FORMATS = ["openai", "anthropic", "ultravox", "json-schema"]
TOOL_AUTH = ["placeholder", "token", "none"]


class _Open(Schema):
    """An answer that may carry more keys than the ones described."""

    class Meta:
        unknown = INCLUDE
        ordered = True


class ToolsQuery(Schema):
    """GET /api/tools."""

    class Meta:
        unknown = EXCLUDE

    format = Text(load_default="openai", metadata={"enum": TOOL_FORMATS, "description": "The LLM platform's format."})
    call_sid = Text(load_default=None, validate=CALL_SID,
                    metadata={"description": "Baked into the tool as a static parameter (Ultravox)."})
    auth = Text(load_default="placeholder", metadata={
        "enum": TOOL_AUTH, "description": "ultravox: the token in authTokens is a placeholder, this request's "
                                          "token, or left out."})


class TargetSchema(_Open):
    kind = fields.String(metadata={"enum": ["number", "sip", "client", "agent"]})
    address = fields.String()
    recipient = fields.String(allow_none=True)
    send_digits = fields.String(allow_none=True)
    sip_headers = fields.List(fields.List(fields.String()))
    sip_username = fields.String(allow_none=True)
    sip_password = fields.String(allow_none=True, metadata={"description": "Always masked."})


class AttemptSchema(_Open):
    step = fields.Int()
    try_ = fields.Int(data_key="try")
    parallel = fields.Bool()
    dynamic = fields.String(allow_none=True)
    delay = fields.Float()
    targets = fields.List(fields.Nested(TargetSchema))


class TransferSchema(_Open):
    """A transfer with its plan and timeline (the timeline's events are those of /events)."""

    id = fields.String(required=True)
    call_sid = fields.String(required=True)
    mode = fields.String(metadata={"enum": MODES})
    status = fields.String(metadata={"enum": [s.value for s in TransferStatus]})
    outcome = fields.String(allow_none=True, metadata={"enum": [o.value for o in Outcome] + [None]})
    outcome_detail = fields.String(allow_none=True)
    to = fields.String()
    reason = fields.String(allow_none=True)
    final = fields.Bool()
    attempt = fields.Int()
    attempts = fields.List(fields.Nested(AttemptSchema))
    caller_id = fields.String(allow_none=True)
    caller = fields.String(metadata={"description": "Where the caller is: agent, waiting, dial, hold, bridged, "
                                                    "returned."})
    waiting_for = fields.String(allow_none=True, metadata={"description": "The deadline armed, if any."})
    created_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)
    routing = fields.List(fields.String(), metadata={"description": "Why routing chose this plan."})
    rule = fields.String(allow_none=True)
    clock_at = fields.String(allow_none=True, metadata={
        "description": "Local mode: the time routing ran at (the request's `at` or HANDOFF_CLOCK); null = real time."})
    chain_index = fields.Int(metadata={"description": "Its place among the call's transfers (1 = the first)."})
    previous_transfer_id = fields.String(allow_none=True, metadata={
        "description": "The call's transfer before this one (null for the first)."})
    timeline = fields.List(fields.Nested(EventSchema))


class ChainLinkSchema(_Open):
    """One transfer of a call's chain, in order."""

    position = fields.Int()
    transfer_id = fields.String()
    previous_transfer_id = fields.String(allow_none=True)
    mode = fields.String(metadata={"enum": MODES})
    to = fields.String()
    status = fields.String()
    outcome = fields.String(allow_none=True)
    outcome_detail = fields.String(allow_none=True)
    url = fields.String()


class HistorySchema(_Open):
    """An earlier transfer on the call, as the next agent or recipient is told about it."""

    id = fields.String()
    mode = fields.String()
    to = fields.String()
    reason = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    outcome_detail = fields.String(allow_none=True)
    attempts = fields.List(fields.Dict(), metadata={"description": "Who was tried and how each attempt ended."})


class CallSchema(_Open):
    """A call Handoff answered, with its variables and transfers."""

    sid = fields.String(required=True)
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    status = fields.String()
    sip = fields.Bool()
    variables = fields.Dict(keys=fields.String(), values=fields.String())
    transfers = fields.List(fields.Nested(TransferSchema))
    chain = fields.List(fields.Nested(ChainLinkSchema), metadata={"description": "The call's transfers in order."})


class TransferContextSchema(_Open):
    """What a receiving agent reads: the reason, summary, variables and transcript."""

    transfer_id = fields.String(required=True)
    call_sid = fields.String(required=True)
    reason = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)
    variables = fields.Dict(keys=fields.String(), values=fields.String())
    transcript = fields.List(fields.Dict(), metadata={
        "description": "The conversation so far, across every transfer on the call."})
    chain_index = fields.Int()
    previous_transfer_id = fields.String(allow_none=True)
    history = fields.List(fields.Nested(HistorySchema), metadata={
        "description": "The call's earlier transfers, oldest first."})


class CallVariablesSchema(Schema):
    call_sid = fields.String(required=True)
    variables = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class RecipientsSchema(_Open):
    recipients = fields.List(fields.Dict(), metadata={"description": "Recipients, groups and rotations; secrets "
                                                                     "masked."})
    config = fields.Dict(metadata={"description": "The recipients file: path, generation and last reload error."})


class ExplainResultSchema(_Open):
    """Where a transfer would go, in order, and why (nothing is dialed)."""

    to = fields.String()
    at = fields.String(allow_none=True)
    ok = fields.Bool()
    error = fields.Dict(allow_none=True)
    selected_rule = fields.String(allow_none=True)
    recipients = fields.List(fields.Dict())
    steps = fields.List(fields.Dict())
    rules = fields.List(fields.Dict())


class ToolAnswerSchema(_Open):
    """A tool call's answer: `result` is a sentence the LLM can speak from."""

    ok = fields.Bool(required=True)
    result = fields.String(required=True)
    transfer_id = fields.String()
    status = fields.String()
    field = fields.String(metadata={"description": "The argument at fault, on a refusal."})
    error = fields.Dict(metadata={"description": "The one error shape's `error`, on a refusal."})


TOOLS_ANSWER = {"oneOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}],
                "description": "A list of tool definitions, or (json-schema) the parameters' JSON Schema."}
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "required": False,
                   "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                   "description": "A retry with the same key and body answers the first transfer again."}
