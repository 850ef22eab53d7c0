"""Fault rules: lost, late and duplicated webhooks, and failing REST requests (the /sim/faults API)."""

import threading
import time
from http import HTTPStatus

from simulator.model import new_sid
from simulator.parties import ANSWERED_BY

WEBHOOK_KEYS = ("target", "url_contains", "action", "seconds", "status", "call_to", "call_from", "times")
REST_KEYS = ("target", "method", "path_contains", "status", "code", "times", "call_to", "call_from")
ACTIONS = ("drop", "delay", "duplicate")
# The timeline event a webhook rule leaves on its call, by action.
WEBHOOK_EVENTS = {"drop": "webhook-dropped", "delay": "webhook-delayed", "duplicate": "webhook-duplicated"}
METHODS = ("GET", "POST", "DELETE")
DEFAULT_SECONDS = {"delay": 1.0, "duplicate": 0.2}
# What a webhook rule's "status" may name: a call's CallStatus, a conference callback's
# StatusCallbackEvent, or an AMD callback's AnsweredBy.
CALL_STATUSES = ("queued", "initiated", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
                 "canceled")
CONFERENCE_EVENTS = ("conference-start", "conference-end", "participant-join", "participant-leave",
                     "participant-mute", "participant-unmute", "participant-hold", "participant-unhold",
                     "participant-modify", "participant-speech-start", "participant-speech-stop",
                     "announcement-end", "announcement-fail")
STATUS_VALUES = CALL_STATUSES + CONFERENCE_EVENTS + ANSWERED_BY


class FaultError(ValueError):
    """A rule the /sim/faults API refuses; `key` names the offending key."""

    def __init__(self, key, message):
        super().__init__(message)
        self.key = key


def _number(rule, key, *, minimum=0.0):
    value = rule[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise FaultError(key, f"Invalid fault rule: '{key}' must be a number >= {minimum}, got {value!r}")
    return float(value)


def _integer(rule, key, *, minimum=None, maximum=None, nullable=False):
    value = rule[key]
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or \
            (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f" between {minimum} and {maximum}" if maximum is not None else f" >= {minimum}"
        raise FaultError(key, f"Invalid fault rule: '{key}' must be an integer{bounds}, got {value!r}")
    return value


def _string(rule, key, choices=None):
    value = rule[key]
    if value is None:
        return None
    if not isinstance(value, str) or (choices is not None and value not in choices):
        allowed = f" (one of {', '.join(choices)})" if choices else ""
        raise FaultError(key, f"Invalid fault rule: '{key}' must be a string{allowed}, got {value!r}")
    return value


def validate(data):
    """A normalised copy of one rule (without id), or FaultError naming the bad key."""
    if not isinstance(data, dict):
        raise FaultError("rules", f"Invalid fault rule: expected an object, got {data!r}")
    target = data.get("target")
    if target not in ("webhook", "rest"):
        raise FaultError("target", f"Invalid fault rule: 'target' must be 'webhook' or 'rest', got {target!r}")
    keys = WEBHOOK_KEYS if target == "webhook" else REST_KEYS
    for key in data:
        if key not in keys:
            raise FaultError(key, f"Invalid fault rule: unknown key '{key}' for target '{target}' "
                                  f"(allowed: {', '.join(keys)})")
    rule = {key: data.get(key) for key in keys}
    for key in ("call_to", "call_from"):
        rule[key] = _string(rule, key)
    if target == "webhook":
        rule["url_contains"] = _string(rule, "url_contains") or ""
        if rule["action"] is None:
            raise FaultError("action", "Invalid fault rule: 'action' is required (drop, delay or duplicate)")
        rule["action"] = _string(rule, "action", ACTIONS)
        if rule["seconds"] is None:
            rule["seconds"] = DEFAULT_SECONDS.get(rule["action"], 0.0)
        rule["seconds"] = _number(rule, "seconds")
        rule["status"] = _string(rule, "status", STATUS_VALUES)
        rule["times"] = _integer(rule, "times", minimum=1, nullable=True)
    else:
        rule["path_contains"] = _string(rule, "path_contains") or ""
        if isinstance(rule["method"], str):
            rule["method"] = rule["method"].upper()
        rule["method"] = _string(rule, "method", METHODS)
        if rule["status"] is None:
            raise FaultError("status", "Invalid fault rule: 'status' is required (e.g. 429, 500, 503)")
        rule["status"] = _integer(rule, "status", minimum=400, maximum=599)
        if rule["code"] is None:
            rule["code"] = 20429 if rule["status"] == 429 else 20500
        rule["code"] = _integer(rule, "code", minimum=1)
        rule["times"] = 1 if "times" not in data else _integer(rule, "times", minimum=1, nullable=True)
    return rule


class Faults:
    """The rules a test installed and every time one fired; matching consumes a rule's `times`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self._hits = []

    def add(self, data):
        """Store one rule or {"rules": [...]} (all or none); returns the stored rules."""
        items = data["rules"] if isinstance(data, dict) and set(data) == {"rules"} else [data]
        if not isinstance(items, list):
            raise FaultError("rules", "Invalid fault rules: 'rules' must be a list")
        rules = [validate(item) for item in items]
        stored = []
        with self._lock:
            for rule in rules:
                rule = {"id": new_sid("FR"), **rule, "used": 0}
                self._rules.append(rule)
                stored.append(dict(rule))
        return stored

    def clear(self):
        """Forget every rule and hit."""
        with self._lock:
            self._rules.clear()
            self._hits.clear()

    def snapshot(self):
        """{"rules": [...], "hits": [...]}."""
        with self._lock:
            return {"rules": [dict(r) for r in self._rules], "hits": [dict(h) for h in self._hits]}

    def _take(self, target, matches, hit):
        """The first rule of `target` that `matches` and has uses left, used once and recorded."""
        with self._lock:
            if not self._rules:
                return None
            for rule in self._rules:
                if rule["target"] != target or (rule["times"] is not None and rule["used"] >= rule["times"]):
                    continue
                if matches(rule):
                    rule["used"] += 1
                    entry = {"rule": rule["id"], "target": target, **hit(rule), "time": time.time()}
                    self._hits.append(entry)
                    return dict(rule)
        return None

    def match_webhook(self, url, *, kind, params=None, calls=()):
        """The rule that applies to a webhook (kind "callback" or "document"), or None."""
        if not self._rules:
            return None
        params = params or {}
        calls = [c for c in calls if c is not None]
        status = params.get("CallStatus") or params.get("StatusCallbackEvent") or params.get("AnsweredBy")

        def matches(rule):
            if rule["url_contains"] not in url:
                return False
            if rule["status"] is not None and (kind != "callback" or rule["status"] != status):
                return False
            return _party_matches(rule, calls)

        def hit(rule):
            call = _first_party(rule, calls)
            return {"action": rule["action"], "url": url, "kind": kind, "call_sid": call.sid if call else None,
                    "callback_status": status if kind == "callback" else None}

        return self._take("webhook", matches, hit)

    def match_rest(self, method, path, *, to=None, from_=None, call=None):
        """The rule that fails a REST request, or None."""
        if not self._rules:
            return None

        def matches(rule):
            if rule["method"] is not None and rule["method"] != method.upper():
                return False
            if rule["path_contains"] not in path:
                return False
            if rule["call_to"] is not None and rule["call_to"] != (to if to is not None else getattr(call, "to", None)):
                return False
            if rule["call_from"] is not None and \
                    rule["call_from"] != (from_ if from_ is not None else getattr(call, "from_", None)):
                return False
            return True

        def hit(rule):
            return {"status": rule["status"], "code": rule["code"], "method": method.upper(), "path": path,
                    "call_sid": call.sid if call else None}

        return self._take("rest", matches, hit)


def _party_matches(rule, calls):
    if rule["call_to"] is None and rule["call_from"] is None:
        return True
    return _first_party(rule, calls) is not None


def _first_party(rule, calls):
    for call in calls:
        if (rule["call_to"] is None or call.to == rule["call_to"]) and \
                (rule["call_from"] is None or call.from_ == rule["call_from"]):
            return call
    return None


def rest_error_body(rule):
    """Twilio's JSON error for a failing REST rule: code, message, more_info, status."""
    try:
        message = HTTPStatus(rule["status"]).phrase
    except ValueError:
        message = "Error"
    return {"code": rule["code"], "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{rule['code']}", "status": rule["status"]}
