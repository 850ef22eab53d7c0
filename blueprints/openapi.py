"""GET /api/openapi.json: the whole /api described from the marshmallow schemas that validate it (apispec).

Every route under /api is in the document (this one too: like every /api route it takes the bearer
token), with its path parameters, the bearer security scheme and the one error shape. What else it
says comes from its view:

- the docstring's first line is the summary, the rest of it the description;
- `@doc(...)`, placed anywhere below the route decorator, names the view's schemas::

      from .openapi import doc

      @bp.get("/analytics")
      @bearer_token
      @doc(query=AnalyticsQuery, response=AnalyticsSchema, tags=["analytics"])
      def analytics():
          '''Outcome mix and timings per destination, rule, mode and hour.'''

  query=      the query string's schema (each field becomes a parameter)
  body=       the JSON body's schema
  response=   the success answer's schema (a class, an instance such as `Event(many=True)`, or a
              JSON Schema dict); status= its code (200); content= other media types of it (a dict);
              response_headers= {name: {"description", "schema"}} of the success answer
  headers=    request headers: [{"name": "Idempotency-Key", "schema": {...}, "description": ...}]
  errors=     error statuses it may answer, as a list or {status: description, or a whole response
              object when it is not the error shape}; 401 (unless auth=False), 404 (a path with
              parameters) and 422 (a query, a body or headers) are added
  auth=False  a public route; tags= its tags (default: the blueprint's name); method= the HTTP
              method the documentation is for, when one view serves several (default: all)
  extra=      a dict merged into the operation last
- or, where the view cannot be decorated: `register("blueprint.endpoint", "GET", **the same)`.

Schemas become components named after their class (without a trailing "Schema"). The document is
built once per app, on its first request, from the routes the app has then.
"""
from __future__ import annotations

import inspect
import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify
from marshmallow import Schema, fields

from .schemas import TRANSFER_ID_PATTERN
from .security import bearer_token

bp = Blueprint("openapi", __name__, url_prefix="/api")

TITLE = "Handoff API"
VERSION = "1.0.0"
_REGISTRY: dict[tuple[str, str], dict] = {}
_PATH_PARAMETERS = {   # the shapes our path parameters take (anything else cannot exist: 404)
    "call_sid": {"type": "string", "pattern": r"^CA[0-9a-f]{32}$", "description": "A Twilio call SID."},
    "transfer_id": {"type": "string", "pattern": TRANSFER_ID_PATTERN, "description": "A transfer id."},
}
_REASONS = {400: "Bad request", 401: "Missing or invalid bearer token", 403: "Forbidden",
            404: "Not found", 409: "Conflict with the current state", 413: "The body is too large",
            422: "Invalid input: `fields` names each one", 429: "Too many requests",
            503: "A dependency is unavailable"}


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"description": "A stable machine-readable code."})
    message = fields.String(required=True, metadata={"description": "What went wrong, in words."})
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.List(fields.String()),
                          required=True, metadata={"description": "Input name -> what is wrong with it."})


class Error(Schema):
    """The one error shape of the whole service."""

    error = fields.Nested(ErrorDetail, required=True)


def doc(**meta):
    """Document the view it decorates (see the module docstring)."""
    method = str(meta.pop("method", "*")).upper()

    def mark(view):
        view.__dict__.setdefault("__openapi__", {})[method] = meta
        return view

    return mark


def register(endpoint: str, method: str, **meta) -> None:
    """Document a view by its endpoint name ("blueprint.function"), for views that cannot be decorated."""
    _REGISTRY[(endpoint, method.upper())] = meta


def _meta(view, endpoint: str, method: str) -> dict:
    marks = getattr(view, "__openapi__", {})
    return _REGISTRY.get((endpoint, method)) or marks.get(method) or marks.get("*") or {}


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _path_parameters(arguments) -> list[dict]:
    return [{"in": "path", "name": name, "required": True,
             "schema": {k: v for k, v in _PATH_PARAMETERS.get(name, {"type": "string"}).items() if k != "description"},
             **({"description": _PATH_PARAMETERS[name]["description"]} if name in _PATH_PARAMETERS else {})}
            for name in sorted(arguments)]


def _content(schema) -> dict:
    return {"application/json": {"schema": schema}}


def _operation(view, endpoint: str, blueprint: str, meta: dict, has_path: bool) -> dict:
    text = inspect.cleandoc(view.__doc__ or endpoint)
    summary, _, description = text.partition("\n")
    op: dict[str, Any] = {"operationId": endpoint.replace(".", "_"), "summary": summary.strip(),
                          "tags": list(meta.get("tags") or [blueprint])}
    if description.strip():
        op["description"] = description.strip()
    auth = meta.get("auth", True)
    op["security"] = [{"bearer": []}] if auth else []
    parameters = [{"in": "header", **header} for header in meta.get("headers") or []]
    if meta.get("query") is not None:
        parameters.insert(0, {"in": "query", "schema": meta["query"]})
    if parameters:
        op["parameters"] = parameters
    if meta.get("body") is not None:
        op["requestBody"] = {"required": True, "content": _content(meta["body"])}
    status = str(meta.get("status", 200))
    success: dict[str, Any] = {"description": meta.get("description", "OK")}
    content = {**(_content(meta["response"]) if meta.get("response") is not None else {}),
               **(meta.get("content") or {})}
    if content:
        success["content"] = content
    if meta.get("response_headers"):
        success["headers"] = dict(meta["response_headers"])
    errors = meta.get("errors") or {}
    errors = dict(errors) if isinstance(errors, dict) else {code: None for code in errors}
    if auth:
        errors.setdefault(401, None)
    if has_path:
        errors.setdefault(404, None)
    if meta.get("query") is not None or meta.get("body") is not None or meta.get("headers"):
        errors.setdefault(422, None)
    op["responses"] = {status: success, **{
        str(code): text if isinstance(text, dict) else
        {"description": text or _REASONS.get(code, "Error"), "content": _content("Error")}
        for code, text in sorted(errors.items())}}
    op.update(meta.get("extra") or {})
    return op


def build_spec(app: Flask) -> dict:
    """The OpenAPI 3 document of every /api route of `app`."""
    spec = APISpec(title=TITLE, version=VERSION, openapi_version="3.0.3", plugins=[MarshmallowPlugin()],
                   info={"description": "Call transfers for AI voice agents on Twilio. Every route takes "
                                        "`Authorization: Bearer <API_TOKEN>`; errors have one shape."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=Error)
    by_path: dict[str, list] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            by_path.setdefault(_openapi_path(rule.rule), []).append(rule)
    for path in sorted(by_path):
        operations: dict[str, dict] = {}
        arguments: set[str] = set()
        for rule in by_path[path]:
            view = app.view_functions[rule.endpoint]
            arguments |= set(rule.arguments)
            blueprint = rule.endpoint.partition(".")[0] if "." in rule.endpoint else "api"
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                operations[method.lower()] = _operation(view, rule.endpoint, blueprint,
                                                        _meta(view, rule.endpoint, method), bool(rule.arguments))
        spec.path(path=path, operations=operations, parameters=_path_parameters(arguments))
    return _tidy(spec.to_dict())


def _tidy(document: dict) -> dict:
    """An optional query parameter is left out, never sent as null: drop marshmallow's None defaults."""
    for operations in document["paths"].values():
        for op in operations.values():
            for parameter in op.get("parameters", []) if isinstance(op, dict) else []:
                schema = parameter.get("schema", {})
                if parameter.get("in") != "path" and schema.get("default", 0) is None:
                    schema.pop("default")
                    schema.pop("nullable", None)
    return document


@bp.get("/openapi.json")
@bearer_token
@doc(tags=["meta"], response={"type": "object", "description": "An OpenAPI 3.0 document."})
def openapi_json():
    """This document: every /api route, from the schemas that validate them."""
    document = current_app.extensions.get("openapi")
    if document is None:
        # Built once: a Flask app takes no new routes after its first request.
        document = current_app.extensions["openapi"] = build_spec(current_app._get_current_object())
    response = jsonify(document)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
