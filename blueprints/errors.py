"""One JSON error shape for the whole service: {"error": {"code", "message", "fields"}}."""
from __future__ import annotations

from flask import Flask, current_app, jsonify
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


def flatten(messages, prefix: str = "") -> dict:
    """Marshmallow's nested messages as {"context.transcript.0.text": [...]}."""
    flat = {}
    for name, value in (messages or {}).items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{key}."))
        else:
            flat[key] = [str(m) for m in value] if isinstance(value, list) else [str(value)]
    return flat


def register_error_handlers(app: Flask) -> None:
    """Every error takes the same shape, webhooks included."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        fields = flatten(exc.messages if isinstance(exc.messages, dict) else {"_body": exc.messages})
        return error_response(422, "invalid_request", f"Invalid input: {', '.join(sorted(fields))}", fields)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = exc.code or 500
        message = exc.description or exc.name
        if code == 413:
            limit = current_app.config.get("MAX_CONTENT_LENGTH")
            message = f"The request body is larger than {limit} bytes (MAX_REQUEST_BYTES)"
        return error_response(code, exc.name.lower().replace(" ", "_").replace("'", ""), message)
