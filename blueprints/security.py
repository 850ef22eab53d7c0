"""Request authentication: Twilio's X-Twilio-Signature on webhooks, bearer tokens on /api."""
from __future__ import annotations

import hmac
from functools import wraps

from flask import current_app, g, request
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


def match_token(candidate: str, tokens) -> str | None:
    """The one of `tokens` that `candidate` is, or None; compared in constant time with every token."""
    found = None
    for token in tokens:
        # No early exit: every token is compared, which leaks nothing about which one matched.
        if hmac.compare_digest(candidate.encode(), token.encode()) and candidate and found is None:
            found = token
    return found


def bearer_from(header: str) -> str:
    """The token of an `Authorization: Bearer <token>` header ("" for another scheme or none)."""
    scheme, _, token = header.partition(" ")
    return token if scheme.lower() == "bearer" else ""


def bearer_token(view):
    """Reject (401) an API request without a valid `Authorization: Bearer <API_TOKEN>`."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        config = current_app.extensions["handoff"].config
        matched = match_token(bearer_from(request.headers.get("Authorization", "")), config.api_tokens)
        if matched is None:
            raise ApiError(401, "unauthorized", "Missing or invalid bearer token",
                           headers={"WWW-Authenticate": 'Bearer realm="handoff"'})
        g.token_label = config.token_labels.get(matched, "token")   # the audit log's actor, never the token
        return view(*args, **kwargs)

    return wrapper
