"""Answering Twilio: TwiML with the right content type, or an empty 204 for pure callbacks."""
from __future__ import annotations

from flask import Response, current_app, request
from marshmallow import Schema, ValidationError

from .errors import ApiError, flatten


def twiml(document: str) -> Response:
    """A TwiML answer."""
    return Response(document, mimetype="application/xml")


def no_content() -> Response:
    """Twilio ignores the body of status callbacks; 204 says so."""
    return Response(status=204)


def load_twilio(schema: Schema, data: dict) -> dict:
    """Load what Twilio sent; a malformed request is a 400 naming the fields (Twilio logs it as 11200)."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        # Not input a person could correct: 400, like Twilio's own answer to a malformed request.
        fields = flatten(exc.messages if isinstance(exc.messages, dict) else {"_body": exc.messages})
        current_app.logger.warning("bad Twilio request on %s: %s", request.path, fields)
        raise ApiError(400, "invalid_webhook", f"Malformed Twilio request: {', '.join(sorted(fields))}",
                       fields=fields) from None


def parse_form(schema: Schema) -> dict:
    """Load a Twilio form (see load_twilio)."""
    return load_twilio(schema, request.form.to_dict(flat=True))


def service():
    """The process's TransferService."""
    return current_app.extensions["handoff"].service
