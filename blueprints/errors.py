"""One JSON error shape for the whole API: {"error": {"code", "message", "fields"}}."""
from __future__ import annotations

from flask import Flask, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An error the API answers with; `fields` maps input names to what is wrong with them."""

    def __init__(self, status: int, code: str, message: str, *, fields: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, fields: dict | None = None, headers: dict | None = None):
    """Build the JSON error response."""
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages, prefix: str = "") -> dict:
    flat = {}
    for name, value in (messages or {}).items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{key}."))
        else:
            flat[key] = value if isinstance(value, list) else [str(value)]
    return flat


def register_error_handlers(app: Flask) -> None:
    """Every error from /api (and the JSON endpoints) takes the same shape."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        fields = _flatten(exc.messages if isinstance(exc.messages, dict) else {"_body": exc.messages})
        names = ", ".join(sorted(fields))
        return error_response(422, "invalid_request", f"Invalid input: {names}", fields)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error_response(exc.code or 500, exc.name.lower().replace(" ", "_"), exc.description or exc.name)
