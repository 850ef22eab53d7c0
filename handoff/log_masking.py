"""Phone numbers, SIP users and client identities masked in every log line, unless LOG_PII=true.

`setup_log_masking(log_pii)` wraps logging's record factory, so every record of every logger
(ours, RQ's, gunicorn's, werkzeug's) is masked when it is made, whichever handler prints it,
including handlers added later (pytest's caplog, a log drain). `PiiFilter` does the same for a
handler configured elsewhere (gunicorn's `logconfig_dict`, dictConfig).

    +14155550123             -> +1********23     (country code and last two digits kept)
    sip:+14155550123@pbx.io  -> sip:+1********23@pbx.io
    sip:alice@pbx.io         -> sip:a***@pbx.io  (a password after the user goes too)
    client:alice             -> client:a***
    From=%2B14155550123      -> From=%2B1********23   (form and query strings)
"""
from __future__ import annotations

import logging
import re

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

_NUMBER = re.compile(r"(\+|%2B)(\d{7,15})(?!\d)", re.IGNORECASE)
_SIP = re.compile(r"\b(sips?:)([^@\s;>\"'/<,]+)@", re.IGNORECASE)
_CLIENT = re.compile(r"\b(client:)([A-Za-z0-9_.\-]+)")
_MARKERS = ("+", "%2B", "%2b", "sip", "SIP", "client:")

_state = {"enabled": False, "installed": False}


def mask_number(digits: str) -> str:
    """E.164 digits (no '+') with all but the country code and the last two digits as '*'."""
    cc = next((n for n in (1, 2, 3) if int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE), 1)
    hidden = max(len(digits) - cc - 2, 0)
    return digits[:cc] + "*" * hidden + digits[cc + hidden:]


def _user(user: str) -> str:
    if user.startswith("+") and user[1:].isdigit():
        return "+" + mask_number(user[1:])
    return user[:1] + "***"


def mask(text: str) -> str:
    """`text` with every phone number, SIP URI user and client identity masked."""
    if not any(marker in text for marker in _MARKERS):
        return text   # the common case: nothing that could be one, no regex run
    text = _SIP.sub(lambda m: f"{m.group(1)}{_user(m.group(2))}@", text)
    text = _CLIENT.sub(lambda m: f"{m.group(1)}{_user(m.group(2))}", text)
    return _NUMBER.sub(lambda m: m.group(1) + mask_number(m.group(2)), text)


def mask_record(record: logging.LogRecord) -> None:
    """Mask the record's message (with its arguments), traceback and stack, once."""
    if getattr(record, "pii_masked", None) is record.msg:
        return      # already done (by the record factory, then a PiiFilter)
    try:
        message = record.getMessage()
    except Exception:   # a bad format string: logging reports it when it prints the record
        return
    masked = mask(message)
    if masked != message:
        # Only a record that held something is rewritten: the others keep their template (grouping).
        record.msg, record.args = masked, ()
    record.pii_masked = record.msg
    if record.exc_info and not record.exc_text:
        record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = mask(record.stack_info)


class PiiFilter(logging.Filter):
    """A handler filter that masks (never drops) records, while masking is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _state["enabled"]:
            mask_record(record)
        return True


def setup_log_masking(log_pii: bool) -> None:
    """Mask every log record of this process from now on, unless `log_pii` (LOG_PII=true)."""
    _state["enabled"] = not log_pii
    if _state["installed"]:
        return
    _state["installed"] = True
    make_record = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if _state["enabled"]:
            mask_record(record)
        return record

    logging.setLogRecordFactory(factory)


def masking_enabled() -> bool:
    """Whether records are being masked (tests restore it)."""
    return _state["enabled"]
