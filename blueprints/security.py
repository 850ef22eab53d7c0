"""Request authentication: Twilio's X-Twilio-Signature on webhooks, bearer tokens on /api."""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, request
from twilio.request_validator import RequestValidator

from .errors import ApiError


def twilio_signed(view):
    """Reject (403) a webhook whose X-Twilio-Signature does not match PUBLIC_BASE_URL + path + query."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        validator: RequestValidator = current_app.extensions["twilio_validator"]
        base = current_app.extensions["handoff"].config.public_base_url
        # Twilio signs the URL it was given, which is ours (PUBLIC_BASE_URL), not what a proxy shows us.
        url = base + request.full_path if request.query_string else base + request.path
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not validator.validate(url, request.form.to_dict(flat=True), signature):
            return current_app.response_class("Invalid Twilio signature\n", status=403, mimetype="text/plain")
        return view(*args, **kwargs)

    return wrapper


def bearer_token(view):
    """Reject (401) an API request without a valid `Authorization: Bearer <API_TOKEN>`."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        tokens = current_app.extensions["handoff"].config.api_tokens
        # compare_digest on every configured token: no early exit that leaks which one matched.
        valid = scheme.lower() == "bearer" and token and \
            sum(hmac.compare_digest(token.encode(), t.encode()) for t in tokens) > 0
        if not valid:
            raise ApiError(401, "unauthorized", "Missing or invalid bearer token",
                           headers={"WWW-Authenticate": 'Bearer realm="handoff"'})
        return view(*args, **kwargs)

    return wrapper
