"""The audit log over HTTP: every state-changing /api request recorded once answered, GET /api/audit,
and /inspector/audit.json for the Inspector's page.

One hook records every API action: `bearer_token` (blueprints/security.py) puts the token's label in
`g.token_label`, and `_record_api_action` (after_request) appends method, path, status, label and
address (request.remote_addr, after ProxyFix) for each non-GET /api request that authenticated.
Requests refused before authentication are not recorded: anyone could flood the capped stream.
"""
from __future__ import annotations

import logging
from urllib.parse import urlencode

import redis
from flask import Blueprint, Flask, current_app, g, jsonify, request
from marshmallow import RAISE, Schema, fields, validate

from handoff.audit import PAGE_LIMIT, Audit, audit_for

from .inspector_auth import login_required
from .listing_schemas import EVENT_ID
from .openapi import doc
from .schemas import Text
from .security import bearer_token

log = logging.getLogger("handoff.audit")
bp = Blueprint("audit", __name__)

# What each API view does, in the audit log's words (any other view: its endpoint name).
ACTIONS = {
    "api.create_transfer": "transfer-request",
    "api.cancel_transfer": "transfer-cancel",
    "api.put_call_variables": "call-variables",
    "api.transfer_call_tool": "tool-transfer-call",
    "api.explain": "routing-explain",
}
_READS = {"GET", "HEAD", "OPTIONS"}
ACTION_PATTERN = r"^[a-z0-9_.]+(-[a-z0-9_.]+)*$"


class AuditQuery(Schema):
    """GET /api/audit's query string."""

    class Meta:
        unknown = RAISE

    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=PAGE_LIMIT),
                       metadata={"description": f"Entries per page (1 to {PAGE_LIMIT})."})
    before = Text(load_default=None, validate=EVENT_ID,
                  metadata={"description": "Only entries older than this id (the previous page's `next_before`)."})
    action = Text(load_default=None, validate=[validate.Length(max=64), validate.Regexp(ACTION_PATTERN)],
                  metadata={"description": "Only this action, or actions it prefixes: `transfer` keeps "
                                           "`transfer-request` and `transfer-cancel`."})


class AuditEntrySchema(Schema):
    """One recorded action."""

    id = fields.String(required=True, metadata={"description": "Its stream id (the time in ms, then a sequence)."})
    at = fields.String(required=True, metadata={"description": "When, ISO 8601 UTC."})
    actor = fields.String(required=True, metadata={
        "description": "The API token's label (never the token), 'file-watch' or 'sighup'; '-' when unknown."})
    action = fields.String(required=True, metadata={
        "description": "What was done: transfer-request, transfer-cancel, routing-reload, inspector-login, ..."})
    target = fields.String(required=True, metadata={"description": "The call SID, transfer id or file acted on."})
    address = fields.String(required=True, metadata={"description": "The client's address (the host, for a reload)."})
    detail = fields.Dict(keys=fields.String(), required=True, metadata={
        "description": "method, path and status of an API request; ok and message of a reload."})


class AuditPageSchema(Schema):
    """A page of the audit log, newest first."""

    items = fields.List(fields.Nested(AuditEntrySchema), required=True)
    next_before = fields.String(allow_none=True, required=True,
                                metadata={"description": "Pass as `before` for the next page; null at the end."})


_query, _page_schema = AuditQuery(), AuditPageSchema()


def init_app(app: Flask) -> None:
    """Record API actions in this app and serve its audit log."""
    app.extensions["audit"] = audit_for(app.extensions["handoff"])
    app.after_request(_record_api_action)
    app.register_blueprint(bp)


def _audit() -> Audit:
    return current_app.extensions["audit"]


def audit_action(action: str, target: str | None, label: str | None, detail: dict | None = None) -> None:
    """Record an action of the current request by `label`; a Redis failure is logged, never raised."""
    try:
        _audit().record(label, action, target, request.remote_addr, detail)
    except redis.RedisError as exc:
        log.warning("audit: could not record %s by %s: %s", action, label, exc)


def _target() -> str:
    """The transfer or call acted on: from the path, or (the tool endpoint) from the tool call's body."""
    args = request.view_args or {}
    for name in ("transfer_id", "call_sid"):
        if args.get(name):
            return str(args[name])
    if request.endpoint != "api.transfer_call_tool":
        return ""
    try:
        body = request.get_json(silent=True)
    except Exception:   # a body over the size limit: the answer already says so
        return ""
    if not isinstance(body, dict):
        return ""
    for where in (body, body.get("arguments"), body.get("input")):
        if isinstance(where, dict) and isinstance(where.get("call_sid"), str):
            return where["call_sid"][:64]
    return ""


def _record_api_action(response):
    label = g.get("token_label")
    if label is None or request.method in _READS or not request.path.startswith("/api/"):
        return response
    answer = response.get_json(silent=True) if response.is_json and not response.is_streamed else None
    detail = {"method": request.method, "path": request.path, "status": response.status_code}
    if isinstance(answer, dict):
        created = answer.get("transfer_id") or (answer.get("id") if request.endpoint == "api.create_transfer" else None)
        if isinstance(created, str):
            detail["transfer_id"] = created
        if isinstance(answer.get("error"), dict):
            detail["error"] = str(answer["error"].get("code", ""))
    audit_action(ACTIONS.get(request.endpoint or "", request.endpoint or "api"), _target(), label, detail)
    return response


def _answer():
    query = _query.load(request.args.to_dict())
    items, next_before = _audit().page(query["limit"], query["before"], query["action"])
    response = jsonify(_page_schema.dump({"items": [e.to_dict() for e in items], "next_before": next_before}))
    response.headers["Cache-Control"] = "no-store"
    if next_before:
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "before"] + [("before", next_before)]
        response.headers["Link"] = f'<{request.path}?{urlencode(args)}>; rel="next"'
    return response


@bp.get("/api/audit")
@bearer_token
@doc(query=AuditQuery, response=AuditPageSchema, tags=["audit"],
     response_headers={"Link": {"description": "`<...>; rel=\"next\"` when there is a next page",
                                "schema": {"type": "string"}}})
def api_audit():
    """The audit log, newest first: API actions, recipients-file reloads, Inspector sign-ins.

    Each entry names the API token by its label (API_TOKEN's `label:token`; unlabelled tokens are
    token-1, token-2, ...), never the token itself, with the client's address.
    """
    return _answer()


@bp.get("/inspector/audit.json")
@login_required(page=False)
def inspector_audit():
    """The audit log for the Inspector's page (the same JSON, with the session instead of a token)."""
    return _answer()
