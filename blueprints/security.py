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


def bearer_token(view):
    """Reject (401) an API request without a valid `Authorization: Bearer <API_TOKEN>`."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        config = current_app.extensions["handoff"].config
        # compare_digest on every configured token: no early exit that leaks which one matched.
        matched = [t for t in config.api_tokens if hmac.compare_digest(token.encode(), t.encode())]
        if scheme.lower() != "bearer" or not token or not matched:
            raise ApiError(401, "unauthorized", "Missing or invalid bearer token",
                           headers={"WWW-Authenticate": 'Bearer realm="handoff"'})
        g.token_label = config.token_labels.get(matched[0], "token")   # the audit log's actor, never the token
        return view(*args, **kwargs)

    return wrapper
