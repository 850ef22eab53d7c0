"""A Twilio webhook's form, read once per request: the same pairs werkzeug's request.form would hold.

The signature check and the form's validation both use these pairs, so the body is parsed once.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, unquote

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec error handler used below)
from flask import Request, request

_URLENCODED = "application/x-www-form-urlencoded"


def form_pairs(req: Request | None = None) -> list[tuple[str, str]]:
    """The body's (name, value) pairs in order, repeated names included (read once per request)."""
    if req is None:
        req = request._get_current_object()
    pairs = getattr(req, "twilio_pairs", None)
    if pairs is None:
        pairs = req.twilio_pairs = _read(req)
    return pairs


def form_dict() -> dict[str, str]:
    """The form as request.form.to_dict(flat=True) gives it: each name's first value."""
    pairs = form_pairs()
    return dict(reversed(pairs)) if pairs else {}


def query_dict() -> dict[str, str]:
    """The query string as request.args.to_dict(flat=True) gives it (our callback URLs' own parameters)."""
    pairs = parse_pairs(request.query_string.decode())
    return dict(reversed(pairs)) if pairs else {}


def _read(req: Request) -> list[tuple[str, str]]:
    if req.mimetype != _URLENCODED:
        # Twilio posts urlencoded forms; anything else gets werkzeug's own reading (or none at all).
        return list(req.form.items(multi=True))
    try:
        return parse_pairs(req.get_data(cache=True).decode())
    except ValueError:      # not UTF-8: werkzeug's parser (silent) yields an empty form too
        return []


def parse_pairs(body: str) -> list[tuple[str, str]]:
    """urllib.parse.parse_qsl(body, keep_blank_values=True, errors="werkzeug.url_quote"), as werkzeug calls it.

    Decoding can only make an `&` or `=` out of %26 or %3D: without those, the whole body is decoded at
    once and then split, instead of decoding each name and value on its own (Twilio sends ~25 pairs).
    """
    if not body:
        return []
    if "%26" in body or "%3D" in body or "%3d" in body:
        return parse_qsl(body, keep_blank_values=True, errors="werkzeug.url_quote")
    if "+" in body:
        body = body.replace("+", " ")
    if "%" in body:
        body = unquote(body, errors="werkzeug.url_quote")
    return [(name, value) for name, _, value in (pair.partition("=") for pair in body.split("&") if pair)]
