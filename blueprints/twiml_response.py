"""Answering Twilio: TwiML with the right content type, or an empty 204 for pure callbacks."""
from __future__ import annotations

from flask import Response, current_app, request
from marshmallow import Schema, ValidationError


def twiml(document: str) -> Response:
    """A TwiML answer."""
    return Response(document, mimetype="application/xml")


def no_content() -> Response:
    """Twilio ignores the body of status callbacks; 204 says so."""
    return Response(status=204)


def parse_form(schema: Schema) -> dict:
    """Load a Twilio form; a malformed one is a 400 with the field names (Twilio logs it as 11200)."""
    try:
        return schema.load(request.form.to_dict(flat=True))
    except ValidationError as exc:
        current_app.logger.warning("bad Twilio form on %s: %s", request.path, exc.messages)
        raise


def service():
    """The process's TransferService."""
    return current_app.extensions["handoff"].service
