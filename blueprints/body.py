"""Reading JSON bodies: the one place where a malformed body becomes a 422 in the one error shape.

`request.get_json(silent=True)` only suppresses ValueError: JSON nested 100,000 deep raises
RecursionError from the parser, and a body that parses 900 deep would raise it later in whatever
walks it. Here every failure (not UTF-8, not JSON, too deep, NaN/Infinity, a number too long to
read) is a ValueError, and `json_body()` answers it with a 422 naming `_body`.
"""
from __future__ import annotations

import json
import math

from flask import request
from marshmallow import ValidationError

from .errors import ApiError
from .schemas import IdempotencyKeySchema

MAX_DEPTH = 32          # our bodies nest 4 deep (context.transcript[i].text); 32 is generous
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean",
               type(None): "null"}


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]}... is too large")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _depth_ok(value, limit: int) -> bool:
    """True when `value` nests at most `limit` arrays/objects deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return False
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return True


def parse_json(raw: str | bytes, *, max_depth: int = MAX_DEPTH):
    """Parse strict JSON (UTF-8 if bytes); raises ValueError with a reason for anything else."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("the body is not valid UTF-8") from None
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"JSON nested more than {max_depth} levels deep") from None
    except ValueError as exc:   # JSONDecodeError, and ints longer than Python reads (4300 digits)
        raise ValueError(f"not valid JSON ({str(exc)[:120]})") from None
    if not _depth_ok(value, max_depth):
        raise ValueError(f"JSON nested more than {max_depth} levels deep")
    return value


def _invalid(reason: str) -> ApiError:
    return ApiError(422, "invalid_request", f"The body must be a JSON object: {reason}",
                    fields={"_body": [reason]})


def json_value():
    """The request's JSON value, whatever its type; ApiError 422 (`_body`) when there is none."""
    if not request.is_json:
        raise _invalid("expected a JSON object with Content-Type: application/json")
    try:
        return parse_json(request.get_data(cache=True))   # over MAX_CONTENT_LENGTH: 413 from Werkzeug
    except ValueError as exc:
        raise _invalid(str(exc)) from None


def json_body() -> dict:
    """The request's JSON object; ApiError 422 (`_body`) for anything else."""
    body = json_value()
    if not isinstance(body, dict):
        raise _invalid(f"expected a JSON object, got {_JSON_TYPES.get(type(body), 'something else')}")
    return body


def idempotency_key() -> str | None:
    """The Idempotency-Key header, checked like any other input (422 naming it)."""
    try:
        return IdempotencyKeySchema().load({"Idempotency-Key": request.headers["Idempotency-Key"]}
                                           if "Idempotency-Key" in request.headers else {})["key"]
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", f"Idempotency-Key {exc.messages['Idempotency-Key'][0]}",
                       fields=dict(exc.messages)) from None
