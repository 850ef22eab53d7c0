"""The REST API for curl and agents' tool calls (bearer token, JSON, one error shape)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for

from handoff.transfers import TransferConflict, TransferRefused, TransferRequest, UnknownCall

from .errors import ApiError
from .schemas import CALL_SID, ExplainSchema, ToolCallSchema, TransferRequestSchema, VariablesSchema
from .security import bearer_token
from .twiml_response import service

bp = Blueprint("api", __name__, url_prefix="/api")

_transfer_request = TransferRequestSchema()
_variables = VariablesSchema()
_explain = ExplainSchema()
_tool_call = ToolCallSchema()


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_request", "The body must be a JSON object",
                       fields={"_body": ["expected a JSON object"]})
    return body


def _check_call_sid(call_sid: str) -> None:
    try:
        CALL_SID(call_sid)
    except Exception:
        raise ApiError(404, "not_found", f"No call {call_sid}") from None


def _routing():
    holder = current_app.extensions["handoff"].routing
    if holder is None:
        raise ApiError(404, "not_configured", "No recipients file is configured (TRANSFER_CONFIG)")
    return holder.current


def _start(call_sid: str, data: dict, *, idempotency_key: str | None):
    request_ = TransferRequest(to=data["to"], mode=data.get("mode"), message=data.get("message"),
                               reason=data.get("reason"), summary=data.get("summary"),
                               variables={k: str(v) for k, v in (data.get("variables") or {}).items()},
                               final=data.get("final", True), caller_id=data.get("caller_id"),
                               timeout=data.get("timeout"), refer=data.get("refer", False),
                               context=data.get("context") or {})
    try:
        return service().request_transfer(call_sid, request_, idempotency_key=idempotency_key)
    except UnknownCall:
        raise ApiError(404, "not_found", f"No call {call_sid} is known to Handoff") from None
    except TransferRefused as exc:
        raise ApiError(422, "transfer_refused", exc.message, fields={exc.field: [exc.message]}) from None
    except TransferConflict as exc:
        raise ApiError(409, "transfer_in_progress", str(exc), fields={"transfer_id": [exc.transfer_id]}) from None


@bp.post("/calls/<call_sid>/transfers")
@bearer_token
def create_transfer(call_sid: str):
    """Start a transfer of a live call; 202 with the transfer and its Location."""
    _check_call_sid(call_sid)
    data = _transfer_request.load(_json_body())
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 255):
        raise ApiError(422, "invalid_request", "Idempotency-Key must be 1 to 255 characters",
                       fields={"Idempotency-Key": ["must be 1 to 255 characters"]})
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
def get_transfer(transfer_id: str):
    """The transfer with its status, outcome and timeline."""
    view = service().transfer_view(transfer_id)
    if view is None:
        raise ApiError(404, "not_found", f"No transfer {transfer_id}")
    return jsonify(view)


@bp.get("/transfers/<transfer_id>/context")
@bearer_token
def get_transfer_context(transfer_id: str):
    """The conversation context handed to the receiving agent (agent-to-agent hand-off)."""
    record = service().store.get_transfer(transfer_id)
    if record is None:
        raise ApiError(404, "not_found", f"No transfer {transfer_id}")
    return jsonify({"transfer_id": transfer_id, "call_sid": record.call_sid, "reason": record.fields.get("reason"),
                    "summary": record.fields.get("summary"), "variables": record.json_field("variables", {}),
                    **record.json_field("context", {})})


@bp.post("/transfers/<transfer_id>/cancel")
@bearer_token
def cancel_transfer(transfer_id: str):
    """Cancel a transfer that has not connected yet; the caller returns to the agent."""
    try:
        service().cancel(transfer_id)
    except KeyError:
        raise ApiError(404, "not_found", f"No transfer {transfer_id}") from None
    except TransferConflict as exc:
        raise ApiError(409, "not_cancellable", str(exc)) from None
    return jsonify(service().transfer_view(transfer_id))


@bp.get("/calls/<call_sid>")
@bearer_token
def get_call(call_sid: str):
    """The call with its transfers."""
    _check_call_sid(call_sid)
    view = service().call_view(call_sid)
    if view is None:
        raise ApiError(404, "not_found", f"No call {call_sid} is known to Handoff")
    return jsonify(view)


@bp.put("/calls/<call_sid>/variables")
@bearer_token
def put_call_variables(call_sid: str):
    """Set the call's variables (used to fill <placeholders> and match routing rules)."""
    _check_call_sid(call_sid)
    data = _variables.load(_json_body())
    if service().store.get_call(call_sid) is None:
        raise ApiError(404, "not_found", f"No call {call_sid} is known to Handoff")
    variables = service().store.set_call_variables(call_sid, {k: str(v) for k, v in data["variables"].items()})
    return jsonify({"call_sid": call_sid, "variables": variables})


@bp.get("/recipients")
@bearer_token
def recipients():
    """Configured recipients, groups and rotations (secrets masked)."""
    return jsonify({"recipients": _routing().recipients()})


@bp.post("/routing/explain")
@bearer_token
def explain():
    """Which recipients a transfer would reach, in order, and why; dials nothing."""
    data = _explain.load(_json_body())
    call_variables = {}
    if data.get("call_sid"):
        call = service().store.get_call(data["call_sid"]) or {}
        call_variables = {"caller": call.get("from", ""), "from": call.get("from", ""),
                          **service().store.get_call_variables(data["call_sid"])}
    result = _routing().explain(variables={k: str(v) for k, v in data["variables"].items()},
                                call_variables=call_variables, now=data.get("at"), to=data["to"])
    return jsonify(result)


@bp.get("/tools")
@bearer_token
def tools():
    """Transfer-tool definitions for an LLM platform (?format=openai|anthropic|ultravox|json-schema)."""
    from handoff.routing import RoutingError

    fmt = request.args.get("format", "openai")
    base = current_app.extensions["handoff"].config.public_base_url
    try:
        return jsonify(_routing().tools(format=fmt, base_url=base))
    except RoutingError as exc:
        raise ApiError(422, "invalid_request", exc.message, fields={"format": [exc.message]}) from None


@bp.post("/tools/transfer_call")
@bearer_token
def transfer_call_tool():
    """Tool endpoint: start a transfer and answer a short sentence the LLM can speak from."""
    body = request.get_json(silent=True) or {}
    # Platforms wrap arguments differently: accept {"arguments": {...}} or a flat object.
    args = body.get("arguments") if isinstance(body.get("arguments"), dict) else body
    data = _tool_call.load({**args, **({"call_sid": body["call_sid"]} if "call_sid" in body else {})})
    try:
        record, _ = _start(data["call_sid"], {"to": data["destination"], "reason": data.get("reason"),
                                              "summary": data.get("summary"), "mode": data.get("mode")},
                           idempotency_key=request.headers.get("Idempotency-Key"))
    except ApiError as exc:
        sentence = {404: "I can't find this call, so I can't transfer it.",
                    409: "A transfer is already in progress for this call.",
                    422: f"I can't transfer the call there: {exc.message}."}.get(exc.status, exc.message)
        return jsonify({"ok": False, "result": sentence, "error": exc.code}), exc.status
    who = data["destination"]
    return jsonify({"ok": True, "transfer_id": record.id,
                    "result": f"Transferring the caller to {who} now. Tell the caller you are connecting them."}), 202
