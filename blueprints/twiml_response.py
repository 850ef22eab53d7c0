"""Answering Twilio: its form loaded (a 400 naming the fields when malformed), TwiML with the right content
type, or an empty 204 for pure callbacks."""
from __future__ import annotations

from flask import Response, current_app, request

from .errors import ApiError, flatten
from .form_loader import FormLoader
from .twilio_form import form_dict

_XML = "application/xml"


def twiml(document: str) -> Response:
    """A TwiML answer."""
    return Response(document, mimetype=_XML)


def no_content() -> Response:
    """Twilio ignores the body of status callbacks; 204 says so."""
    return Response(status=204)


def load_twilio(loader: FormLoader, data: dict) -> dict:
    """Load what Twilio sent; a malformed request is a 400 naming the fields (Twilio logs it as 11200)."""
    loaded, errors = loader.load(data)
    if errors:
        # Not input a person could correct: 400, like Twilio's own answer to a malformed request.
        fields = flatten(errors)
        current_app.logger.warning("bad Twilio request on %s: %s", request.path, fields)
        raise ApiError(400, "invalid_webhook", f"Malformed Twilio request: {', '.join(sorted(fields))}",
                       fields=fields)
    return loaded


def parse_form(loader: FormLoader) -> dict:
    """Load the request's Twilio form (read once, see twilio_form), as load_twilio does."""
    return load_twilio(loader, form_dict())


def service():
    """The process's TransferService."""
    return current_app.extensions["handoff"].service
