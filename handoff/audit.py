"""The audit log: who did what, when and from where, in one capped Redis Stream (`Keys.audit()`).

Recorded: every state-changing /api request (blueprints/audit_log.py), every recipients-file
reload (app.py), the Inspector's logins, logouts and cancels (blueprints/inspector_auth.py).
An entry names its actor by a label (the API token's, from API_TOKEN's 'label:token', or
"file-watch", "sighup"), never by a secret: the strings given as `redact` are replaced wherever
they would appear. The entry's stream id is its time.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

import redis

from .keys import Keys, decode

MAXLEN = 10_000          # entries kept (approximately: XADD MAXLEN ~)
PAGE_LIMIT = 500         # entries one read may answer
SCAN_LIMIT = MAXLEN      # entries one filtered read may look through
ONCE_WINDOW = 60.0       # seconds in which `record_once` records a fingerprint once
_FIELDS = ("at", "actor", "action", "target", "address")
_LIMITS = {"actor": 64, "action": 64, "target": 256, "address": 64}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AuditEntry:
    """One recorded action."""

    id: str
    at: str
    actor: str
    action: str
    target: str
    address: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, entry_id, fields: Mapping) -> "AuditEntry":
        values = {decode(k, errors="replace"): decode(v, errors="replace") for k, v in fields.items()}
        try:
            detail = json.loads(values.get("detail") or "{}")
        except ValueError:
            detail = {}
        return cls(id=decode(entry_id, errors="replace"), detail=detail if isinstance(detail, dict) else {},
                   **{name: values.get(name, "") for name in _FIELDS})

    def matches(self, action: str | None) -> bool:
        """`action` is this entry's action or a prefix of it ('transfer' matches 'transfer-cancel')."""
        return not action or self.action == action or self.action.startswith(action + "-")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "actor": self.actor, "action": self.action,
                "target": self.target, "address": self.address, "detail": dict(self.detail)}


class Audit:
    """Appends to and reads the audit stream."""

    def __init__(self, connection: redis.Redis, keys: Keys, *, redact: Iterable[str] = (), maxlen: int = MAXLEN):
        self.redis = connection
        self.key = keys.audit()
        self.maxlen = maxlen
        # Longest first: a token that contains another is replaced whole.
        self._redact = sorted({s for s in redact if s}, key=len, reverse=True)

    def _clean(self, text: str) -> str:
        for secret in self._redact:
            text = text.replace(secret, "[redacted]")
        return text

    def _fields(self, actor, action, target, address, detail, fingerprint=None) -> dict[str, str]:
        values = {"at": _now(), "actor": actor or "-", "action": action, "target": target or "",
                  "address": address or ""}
        fields = {k: self._clean(str(v))[:_LIMITS.get(k, 64)] for k, v in values.items()}
        fields["detail"] = self._clean(json.dumps(dict(detail or {}), default=str, sort_keys=True))[:4096]
        if fingerprint:
            fields["fp"] = fingerprint
        return fields

    def record(self, actor: str | None, action: str, target: str | None, address: str | None,
               detail: Mapping[str, Any] | None = None) -> str:
        """Append one entry; returns its id."""
        fields = self._fields(actor, action, target, address, detail)
        return decode(self.redis.xadd(self.key, fields, maxlen=self.maxlen, approximate=True), errors="replace")

    def record_once(self, actor: str | None, action: str, target: str | None, address: str | None,
                    detail: Mapping[str, Any] | None, *, fingerprint: str, window: float = ONCE_WINDOW) -> str | None:
        """Append unless an entry with this fingerprint was appended in the last `window` seconds
        (several processes reload the same file; one address retrying a bad login); None if skipped."""
        fields = self._fields(actor, action, target, address, detail, fingerprint)
        since = f"{int((time.time() - window) * 1000)}"
        with self.redis.pipeline() as pipe:
            for _ in range(5):
                try:
                    pipe.watch(self.key)     # another process appending in between makes us look again
                    recent = pipe.xrevrange(self.key, "+", since, count=200)
                    if any(decode(f.get(b"fp", f.get("fp", "")), errors="replace") == fingerprint for _, f in recent):
                        return None
                    pipe.multi()
                    pipe.xadd(self.key, fields, maxlen=self.maxlen, approximate=True)
                    return decode(pipe.execute()[0], errors="replace")
                except redis.WatchError:
                    continue
        return self.record(actor, action, target, address, detail)   # busy: a duplicate beats a gap

    def page(self, limit: int = 50, before: str | None = None,
             action: str | None = None) -> tuple[list[AuditEntry], str | None]:
        """Newest first, strictly older than `before`; (entries, the `before` of the next page or None)."""
        limit = max(1, min(limit, PAGE_LIMIT))
        entries: list[AuditEntry] = []
        cursor, scanned = (f"({before}" if before else "+"), 0
        count = limit + 1 if not action else max(limit + 1, 200)   # one more: is there a next page?
        while scanned < SCAN_LIMIT:
            chunk = self.redis.xrevrange(self.key, cursor, "-", count=count)
            for entry_id, fields in chunk:
                scanned += 1
                entry = AuditEntry.from_entry(entry_id, fields)
                cursor = f"({entry.id}"
                if entry.matches(action):
                    if len(entries) == limit:
                        return entries, entries[-1].id
                    entries.append(entry)
            if len(chunk) < count:
                return entries, None
        return entries, cursor[1:]     # looked through enough: the caller may go on from here

    def recent(self, limit: int = 50, before: str | None = None, action: str | None = None) -> list[AuditEntry]:
        """The newest entries (older than `before`, of `action`), newest first."""
        return self.page(limit, before, action)[0]

    def record_reload(self, actor: str, path: str, ok: bool, message: str, *,
                      generation: int | None = None) -> str | None:
        """A recipients-file reload, once per file content and result however many processes reloaded it."""
        try:
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()[:16]
        except OSError:
            digest = "unreadable"
        detail = {"ok": ok, "message": message, "sha256": digest, "pid": os.getpid()}
        if generation is not None:
            detail["generation"] = generation
        return self.record_once(actor, "routing-reload", path, socket.gethostname(), detail,
                                fingerprint=f"reload|{actor}|{path}|{digest}|{int(ok)}")


def audit_for(runtime) -> Audit:
    """The audit log of a process's runtime (handoff/runtime.py), its API tokens redacted."""
    return Audit(runtime.redis, runtime.store.keys, redact=runtime.config.api_tokens)


def record_inspector_action(runtime, *, label: str | None, action: str, address: str | None,
                            **detail) -> str | None:
    """An Inspector action (login, logout, cancel); a failed login is recorded once a minute per address."""
    target = str(detail.get("transfer_id") or "")
    audit = audit_for(runtime)
    if label is None:
        return audit.record_once("-", action, target, address, detail, fingerprint=f"{action}|{address}")
    return audit.record(label, action, target, address, detail)
