"""Request authentication: Twilio's X-Twilio-Signature on webhooks, bearer tokens on /api."""
from __future__ import annotations

import base64
import hashlib
import hmac
from functools import wraps
from urllib.parse import urlparse

from flask import current_app, g, request
from twilio.request_validator import add_port, remove_port

from .errors import ApiError
from .twilio_form import form_pairs


class TwilioSignature:
    """X-Twilio-Signature as twilio's RequestValidator.compute_signature computes it (HMAC-SHA1, base64, of
    the URL then each name and value in sorted order, a name's distinct values each), computed once.

    Twilio signs the URL it was given, which is ours: PUBLIC_BASE_URL + path + query, never parsed
    again. RequestValidator.validate also accepts the URL with the port added or removed (Twilio's
    signing was once inconsistent about it): that variant is tried only when the exact URL fails, so
    a request signed over it still passes and a valid webhook costs one HMAC.
    """

    def __init__(self, auth_token: str, base_url: str):
        self.key = auth_token.encode("utf-8")
        self.base_url = base_url
        self.other_base_url = _other_port_form(base_url)

    def digest(self, url: str, pairs) -> bytes:
        """The base64 signature of url + params, as bytes."""
        signed = url + "".join([name + value for name, value in sorted(set(pairs))])
        return base64.b64encode(hmac.new(self.key, signed.encode("utf-8"), hashlib.sha1).digest())

    def valid(self, path_and_query: str, pairs, signature: str) -> bool:
        """Whether `signature` signs PUBLIC_BASE_URL + path_and_query and the form's pairs."""
        if not signature:
            return False
        given = signature.encode("utf-8", "surrogatepass")
        if hmac.compare_digest(self.digest(self.base_url + path_and_query, pairs), given):
            return True
        return self.other_base_url is not None and \
            hmac.compare_digest(self.digest(self.other_base_url + path_and_query, pairs), given)


def _other_port_form(base_url: str) -> str | None:
    """PUBLIC_BASE_URL with its port removed, or with the scheme's default port added (validate's variants)."""
    try:
        parsed = urlparse(base_url)
        other = remove_port(parsed) if parsed.port else add_port(parsed)
    except ValueError:      # not a URL with a host and port to vary
        return None
    return other if other != base_url else None


def twilio_signed(view):
    """Reject (403) a webhook whose X-Twilio-Signature does not match PUBLIC_BASE_URL + path + query."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        req = request._get_current_object()
        query = req.query_string
        try:
            # Twilio signs the URL it was given, which is ours (PUBLIC_BASE_URL), not what a proxy shows us.
            target = f"{req.path}?{query.decode()}" if query else req.path
        except UnicodeDecodeError:      # not a URL Twilio could have signed
            target = None
        signature: TwilioSignature = current_app.extensions["twilio_signature"]
        if target is None or not signature.valid(target, form_pairs(req),
                                                 req.environ.get("HTTP_X_TWILIO_SIGNATURE", "")):
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
