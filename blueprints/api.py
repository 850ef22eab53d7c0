"""The REST API for curl and agents' tool calls (bearer token, JSON, one error shape)."""
from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify, request, url_for
from marshmallow import ValidationError

from handoff.texts import LITERAL as LITERAL_SMS
from handoff.transfer.requests import (ChainLimitReached, IdempotencyMismatch, TransferConflict, TransferRefused,
                                       UnknownCall)
from handoff.transfer_request import TransferRequest

from .api_schemas import (IDEMPOTENCY_KEY, TOOLS_ANSWER, CallSchema, CallVariablesSchema, ExplainResultSchema,
                          RecipientsSchema, ToolAnswerSchema, ToolsQuery, TransferContextSchema, TransferSchema)
from .body import idempotency_key, json_body, parse_json
from .errors import ApiError, flatten
from .openapi import doc
from .schemas import (CALL_SID, TRANSFER_ID_PATTERN, ExplainSchema, ToolCallSchema, TransferRequestSchema,
                      VariablesSchema, stringify)
from .security import bearer_token
from .twiml_response import service

bp = Blueprint("api", __name__, url_prefix="/api")

_transfer_request = TransferRequestSchema()
_variables = VariablesSchema()
_explain = ExplainSchema()
_tool_call = ToolCallSchema()
_tools_query = ToolsQuery()


_TRANSFER_ID = re.compile(TRANSFER_ID_PATTERN)


def _check_call_sid(call_sid: str) -> None:
    try:
        CALL_SID(call_sid)
    except ValidationError:
        raise ApiError(404, "not_found", "No such call: a call SID is CA + 32 hex digits") from None


def check_transfer_id(transfer_id: str, message: str = "No such transfer") -> None:
    """404 with `message` for an id that is not one of ours: it cannot exist, and need not reach Redis."""
    if not _TRANSFER_ID.match(transfer_id):
        raise ApiError(404, "not_found", message)


def cancel(transfer_id: str, **detail) -> None:
    """Cancel a transfer: 404 if unknown, 409 if it can no longer be cancelled."""
    try:
        service().cancel(transfer_id, **detail)
    except KeyError:
        raise ApiError(404, "not_found", f"No transfer {transfer_id}") from None
    except TransferConflict as exc:
        raise ApiError(409, "not_cancellable", str(exc)) from None


def _holder():
    holder = current_app.extensions["handoff"].routing
    if holder is None:
        raise ApiError(404, "not_configured", "No recipients file is configured (TRANSFER_CONFIG)")
    return holder


def _routing():
    return _holder().current


def _now():
    """The service's clock: HANDOFF_CLOCK in local mode, else real time."""
    return current_app.extensions["handoff"].ctx.clock.now()


def _call_variables(call_sid: str) -> dict[str, str]:
    """What routing sees of a call (the same names the transfer service passes to `Router.plan`)."""
    call = service().store.get_call(call_sid)
    if call is None:
        raise ApiError(404, "not_found", f"No call {call_sid} is known to Handoff",
                       fields={"call_sid": ["unknown call"]})
    return {"caller": call.get("from", ""), "from": call.get("from", ""), "to": call.get("to", ""),
            **service().store.get_call_variables(call_sid)}


def _start(call_sid: str, data: dict, *, idempotency_key: str | None, via: str = "api"):
    request_ = TransferRequest(to=data["to"], mode=data.get("mode"), message=data.get("message"),
                               reason=data.get("reason"), summary=data.get("summary"),
                               variables=stringify(data.get("variables")),
                               final=data.get("final", True), caller_id=data.get("caller_id"),
                               timeout=data.get("timeout"), refer=data.get("refer", False),
                               context=data.get("context") or {}, at=data.get("at"), card=data.get("card"),
                               sms={k: v for k, v in (data.get("sms") or {}).items() if v is not None})
    try:
        return service().request_transfer(call_sid, request_, idempotency_key=idempotency_key, via=via)
    except UnknownCall:
        raise ApiError(404, "not_found", f"No call {call_sid} is known to Handoff") from None
    except TransferRefused as exc:
        raise ApiError(422, "transfer_refused", exc.message, fields={exc.field or "to": [exc.message]}) from None
    except IdempotencyMismatch as exc:
        raise ApiError(422, "idempotency_key_reused", str(exc), fields={"Idempotency-Key": [str(exc)]}) from None
    except ChainLimitReached as exc:
        # Chained transfers: the call has had TRANSFER_CHAIN_LIMIT transfers; it stays where it is.
        raise ApiError(409, "chain_limit", str(exc),
                       fields={"transfer_id": [exc.transfer_id]} if exc.transfer_id else {}) from None
    except TransferConflict as exc:
        if exc.call_status:
            raise ApiError(409, "call_ended", str(exc), fields={"call_status": [exc.call_status]}) from None
        raise ApiError(409, "transfer_in_progress", str(exc), fields={"transfer_id": [exc.transfer_id]}) from None


def _found(view: dict | None, message: str) -> dict:
    """The view, or the one 404 shape when there is nothing to show."""
    if view is None:
        raise ApiError(404, "not_found", message)
    return view


@bp.post("/calls/<call_sid>/transfers")
@bearer_token
@doc(body=TransferRequestSchema, headers=[IDEMPOTENCY_KEY], response=TransferSchema, status=202, tags=["transfers"],
     errors={409: "Another transfer is in flight on the call, the call is over, or it has been through "
                  "TRANSFER_CHAIN_LIMIT transfers (code chain_limit)", 413: None})
def create_transfer(call_sid: str):
    """Start a transfer of a live call; 202 with the transfer and its Location."""
    _check_call_sid(call_sid)
    data = _transfer_request.load(json_body())
    key = idempotency_key()
    record, created = _start(call_sid, data, idempotency_key=key)
    view = service().transfer_view(record.id)
    response = jsonify(view)
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_transfer", transfer_id=record.id)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/transfers/<transfer_id>")
@bearer_token
@doc(response=TransferSchema, tags=["transfers"])
def get_transfer(transfer_id: str):
    """The transfer with its status, outcome and timeline."""
    check_transfer_id(transfer_id)
    return jsonify(_found(service().transfer_view(transfer_id), f"No transfer {transfer_id}"))


@bp.get("/transfers/<transfer_id>/context")
@bearer_token
@doc(response=TransferContextSchema, tags=["transfers"])
def get_transfer_context(transfer_id: str):
    """The conversation context handed to the receiving agent (agent-to-agent hand-off)."""
    check_transfer_id(transfer_id)
    return jsonify(_found(service().context_view(transfer_id), f"No transfer {transfer_id}"))


@bp.post("/transfers/<transfer_id>/cancel")
@bearer_token
@doc(response=TransferSchema, tags=["transfers"], errors={409: "The transfer can no longer be cancelled"})
def cancel_transfer(transfer_id: str):
    """Cancel a transfer that has not connected yet; the caller returns to the agent."""
    check_transfer_id(transfer_id)
    cancel(transfer_id)
    return jsonify(service().transfer_view(transfer_id))


@bp.get("/calls/<call_sid>")
@bearer_token
@doc(response=CallSchema, tags=["calls"])
def get_call(call_sid: str):
    """The call with its transfers."""
    _check_call_sid(call_sid)
    return jsonify(_found(service().call_view(call_sid), f"No call {call_sid} is known to Handoff"))


@bp.put("/calls/<call_sid>/variables")
@bearer_token
@doc(body=VariablesSchema, response=CallVariablesSchema, tags=["calls"], errors=[413])
def put_call_variables(call_sid: str):
    """Set the call's variables (used to fill <placeholders> and match routing rules)."""
    _check_call_sid(call_sid)
    data = _variables.load(json_body())
    if service().store.get_call(call_sid) is None:
        raise ApiError(404, "not_found", f"No call {call_sid} is known to Handoff")
    variables = service().store.set_call_variables(call_sid, stringify(data["variables"]))
    return jsonify({"call_sid": call_sid, "variables": variables})


@bp.get("/recipients")
@bearer_token
@doc(response=RecipientsSchema, tags=["routing"], errors={404: "No recipients file is configured"})
def recipients():
    """Configured recipients, groups and rotations (secrets masked), and the file's reload state."""
    holder = _holder()
    router = holder.current
    return jsonify({"recipients": router.recipients(_now()),
                    "config": {"path": holder.path, "generation": getattr(holder, "generation", None),
                               "last_error": getattr(holder, "last_error", None)}})


@bp.post("/routing/explain")
@bearer_token
@doc(body=ExplainSchema, response=ExplainResultSchema, tags=["routing"],
     errors={404: "No recipients file is configured, or no such call", 413: None})
def explain():
    """Which recipients a transfer would reach, in order, and why; dials nothing."""
    data = _explain.load(json_body())
    router = _routing()
    call_variables = _call_variables(data["call_sid"]) if data.get("call_sid") else {}
    result = router.explain(variables=stringify(data["variables"]), call_variables=call_variables,
                            now=data.get("at") or _now(), to=data["to"])
    return jsonify(result)


@bp.get("/tools")
@bearer_token
@doc(query=ToolsQuery, response=TOOLS_ANSWER, tags=["tools"], errors={404: "No recipients file is configured"})
def tools():
    """Transfer-tool definitions for an LLM platform (?format=openai|anthropic|ultravox|json-schema).

    `?call_sid=CA...` adds it as a static parameter (Ultravox sends it back on every tool call).
    `?auth=placeholder|token|none` (ultravox): the tool requires `Authorization: Bearer`; its
    authTokens hold "<API_TOKEN>" to replace (default), the token this request used, or nothing.
    """
    from handoff.routing import RoutingError

    query = _tools_query.load(request.args.to_dict())
    fmt, call_sid, auth = query["format"], query["call_sid"], query["auth"]
    # Only the token this request was authenticated with, never another configured one.
    token = request.headers.get("Authorization", "").partition(" ")[2].strip() if auth == "token" else None
    base = current_app.extensions["handoff"].config.public_base_url
    try:
        body = _routing().tools(format=fmt, base_url=base, auth=auth, token=token,
                                static_parameters={"call_sid": call_sid} if call_sid else None)
    except RoutingError as exc:
        raise ApiError(422, "invalid_request", exc.message, fields={exc.field or "format": [exc.message]}) from None
    response = jsonify(body)
    response.headers["X-Handoff-Tool-Auth"] = f"POST {base}/api/tools/transfer_call with Authorization: Bearer <API_TOKEN>"
    return response


def _tool_refusal(description: str) -> dict:
    return {"description": f"{description}: a ToolAnswer with ok=false", "content": {"application/json": {
        "schema": ToolAnswerSchema}}}


def _tool_arguments(body) -> dict:
    """The tool's arguments, however the platform wraps them.

    Flat (Ultravox, curl), {"arguments": {...} | "<JSON string>"} (OpenAI function calls) or
    {"input": {...}} (Anthropic tool_use); a top-level call_sid wins over one in the arguments.
    """
    if not isinstance(body, dict):
        return {}
    args = body
    for key in ("arguments", "input"):
        wrapped = body.get(key)
        if isinstance(wrapped, str):
            try:
                wrapped = parse_json(wrapped)    # the same limits as a body (depth, NaN, size)
            except ValueError:
                wrapped = None
        if isinstance(wrapped, dict):
            args = wrapped
            break
    merged = dict(args)
    if "call_sid" in body:
        merged["call_sid"] = body["call_sid"]
    return merged


def _tool_answer(status: int, sentence: str, code: str, *, field: str | None = None, message: str | None = None,
                 **extra):
    """{"ok": false, "result": <sentence for the LLM>, "error": <the one error shape>, "field"?}."""
    detail = message or sentence
    body = {"ok": False, "result": sentence,
            "error": {"code": code, "message": detail, "fields": {field: [detail]} if field else {}}, **extra}
    if field:
        body["field"] = field
    return jsonify(body), status


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


@bp.post("/tools/transfer_call")
@bearer_token
@doc(body=ToolCallSchema, headers=[IDEMPOTENCY_KEY], response=ToolAnswerSchema, status=202, tags=["tools"],
     errors={404: _tool_refusal("Unknown call"), 409: _tool_refusal("A transfer is already in flight, or the chain limit is reached"),
             422: _tool_refusal("Refused (unknown destination, bad arguments)"), 413: None})
def transfer_call_tool():
    """Tool endpoint: start a transfer and answer a short sentence the LLM can speak from.

    Every answer has "ok" and "result" (a sentence for the LLM); a refusal also has "error" in the
    one error shape and "field": 202 started; 422 refused (an unknown or hidden destination, an
    unbound placeholder, bad arguments); 404 unknown call; 409 a transfer is already in flight.
    """
    from handoff.routing.tools import destinations

    try:
        body = json_body()
        key = idempotency_key()
        data = _tool_call.load(_tool_arguments(body))
    except ApiError as exc:
        field = next(iter(exc.fields), "_body")
        return _tool_answer(exc.status, f"I can't transfer the call: the tool call was malformed ({field}). "
                                        "Tell the caller and keep helping them.", exc.code, field=field,
                            message=exc.message)
    except ValidationError as exc:
        fields = flatten(exc.messages if isinstance(exc.messages, dict) else {"_body": exc.messages})
        field = sorted(fields)[0]
        if field == "call_sid":
            sentence = "I can't transfer this call: the tool call did not identify the call."
        else:
            sentence = f"I can't transfer the call: the {field} argument is missing or invalid."
        return _tool_answer(422, sentence + " Tell the caller and keep helping them.", "invalid_request",
                            field=field, message=f"{field}: {fields[field][0]}")
    destination = data["destination"].strip()
    allowed = [name for name, _ in destinations(_routing())]
    if destination not in allowed:
        # The LLM may only choose what the tool definition offers: no hidden recipients, no raw numbers.
        return _tool_answer(
            422, f"I can't transfer the call to {destination!r}: it is not one of the available destinations. "
                 f"Choose one of: {', '.join(allowed)}; or tell the caller and keep helping them.",
            "transfer_refused", field="destination", message=f"{destination!r} is not an available destination")
    try:
        record, _ = _start(data["call_sid"], {"to": destination, "reason": data.get("reason"),
                                              "summary": data.get("summary"), "mode": data.get("mode"),
                                              "at": data.get("at"),
                                              "sms": {"before": data["sms"]} if data.get("sms") else None,
                                              # The LLM's words, texted as written: never filled (handoff/texts.py)
                                              "context": {LITERAL_SMS: ["before"]} if data.get("sms") else None},
                           idempotency_key=key, via="tool")
    except ApiError as exc:
        if exc.status == 404:
            sentence = "I can't find this call, so I can't transfer it. Keep helping the caller."
        elif exc.code == "chain_limit":
            sentence = (f"I can't transfer this call again: {_sentence(exc.message)} "
                        "Keep helping the caller yourself; don't try another transfer.")
        elif exc.status == 409:
            sentence = ("A transfer is already in progress for this call. Tell the caller they are being "
                        "connected and don't start another one.")
        else:
            sentence = (f"I can't transfer the call to {destination} right now: {_sentence(exc.message)} "
                        "Tell the caller, and keep helping them or choose another destination.")
        field = next(iter(exc.fields), None) if exc.status == 422 else None
        extra = {"transfer_id": exc.fields["transfer_id"][0]} if exc.status == 409 and exc.fields.get("transfer_id") else {}
        return _tool_answer(exc.status, sentence, exc.code, field=field, message=exc.message, **extra)
    return jsonify({"ok": True, "transfer_id": record.id, "status": record.status.value,
                    "result": f"Transferring the caller to {destination} now. "
                              "Tell the caller you are connecting them."}), 202
