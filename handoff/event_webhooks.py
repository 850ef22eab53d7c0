"""Event webhooks: every transfer event POSTed to EVENTS_URL as signed JSON, retried with backoff.

The body (the envelope, the same bytes on every try):
    {"id": "<event id>", "type": "<event type>", "created_at": "<ISO 8601 UTC>",
     "transfer_id": "...", "call_sid": "...", "data": {<the event, as GET /api/transfers/{id}/events shows it>}}
Headers: Handoff-Signature (handoff/webhook_signature.py), Handoff-Event-Id, Handoff-Event-Type,
Handoff-Delivery-Attempt (1, 2, ...), User-Agent: Handoff/<version>.

Delivery is at least once: a receiver deduplicates by the event id. Events of one transfer may
arrive out of order when some are retried; event ids order them (Redis stream ids, "<ms>-<n>",
compared as two numbers), as does `data.at`.

How (no RQ scheduler: due times are ours, like the transfers' deadlines):
- the dispatcher (handoff/dispatch.py) opens a delivery per event, in the MULTI that acknowledges
  the feed: a record `Keys.delivery(id)` (body, tries, first_at, last status) and an entry in
  `Keys.deliveries()` scored with the lease's end, and enqueues the job `deliver_event(id, lease)`
  on the events queue;
- the job takes the delivery only if its lease is still the current one (a stale duplicate job
  does nothing), renews the lease, POSTs once and records the answer: delivered, gone (410),
  given up (a 4xx that retrying cannot fix, or EVENTS_MAX_AGE_SECONDS after the event), or a
  retry, scored with its due time;
- the dispatcher claims due entries atomically (pushing each score to a new lease) and enqueues
  them. A job that dies mid-run leaves its entry in the set: it is claimed again when its lease
  ends, so no event is lost while its record lives.
"""
from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from urllib.parse import urljoin, urlparse

import redis

from . import webhook_signature
from .events import Event
from .jobs import JobQueue
from .keys import Keys, decode
from .store import Store

log = logging.getLogger("handoff.event_webhooks")

QUEUE = "events"               # RQ queue of deliveries, after the transfers queue in every worker
REQUEST_TIMEOUT = 5.0          # seconds per connect and per read of one POST ...
TRY_BUDGET = 10.0              # ... and for a whole try, redirects included
LEASE = 15.0                   # a taken delivery's job ends within this, or it is claimed again
FIRST_RETRY = 1.0              # seconds before the second try; doubled per try (with jitter) ...
MAX_RETRY = 600.0              # ... up to 10 minutes
MAX_REDIRECTS = 3              # same-host redirects followed; another host's never
RETRY_4XX = frozenset({408, 409, 425, 429})   # client errors that a later try can fix
DEFAULT_KEEP = 7 * 24 * 3600   # a failed delivery's record is kept this long (the transfer's TTL) ...
KEEP_DELIVERED = 24 * 3600     # ... a delivered one's summary (the body dropped) for a day: one per event
COUNTER = "event_webhooks"     # totals fields `event_webhooks|<delivered|retried|gone|given-up>`
COUNTED = {"delivered": "delivered", "retry": "retried", "gone": "gone", "give-up": "given-up"}

try:
    from . import __version__ as _VERSION   # type: ignore[attr-defined]
except ImportError:
    _VERSION = "1"
USER_AGENT = f"Handoff/{_VERSION}"





def envelope(event: Event) -> bytes:
    """The body POSTed for an event (compact JSON, UTF-8)."""
    return json.dumps({"id": event.id, "type": event.type, "created_at": event.at,
                       "transfer_id": event.transfer_id, "call_sid": event.call_sid, "data": event.to_dict()},
                      separators=(",", ":"), ensure_ascii=False, default=str).encode()


def event_epoch(event_id: str) -> float:
    """When the event was written, from its stream id ('<ms>-<n>')."""
    ms, _, _ = event_id.partition("-")
    return int(ms) / 1000 if ms.isdigit() else time.time()


def backoff(tries: int, *, retry_after: float | None = None) -> float:
    """Seconds before the next try after `tries` failed ones: 1, 2, 4, 8 ... 600, each +-25 %."""
    delay = min(MAX_RETRY, FIRST_RETRY * 2 ** max(0, tries - 1)) * random.uniform(0.75, 1.25)
    if retry_after:
        delay = max(delay, retry_after)
    return min(MAX_RETRY, delay)


@dataclass(frozen=True)
class Answer:
    """What one POST came to: delivered | retry | gone | give-up, with the HTTP status or the error."""

    verdict: str
    status: int | None = None
    error: str = ""
    retry_after: float | None = None

    @classmethod
    def of_status(cls, status: int, note: str = "", retry_after: float | None = None) -> "Answer":
        error = f"HTTP {status}" + (f": {note}" if note else "")
        if 200 <= status < 300:
            return cls("delivered", status)
        if status == 410:
            return cls("gone", status, error)       # the receiver asked us to stop sending this
        if 300 <= status < 400 or (400 <= status < 500 and status not in RETRY_4XX):
            return cls("give-up", status, error)    # a redirect we do not follow, or a request it refuses
        return cls("retry", status, error, retry_after)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):   # followed by post() itself, only to the same host
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = REQUEST_TIMEOUT,
         budget: float = TRY_BUDGET) -> Answer:
    """One delivery try: POST, following at most MAX_REDIRECTS redirects that stay on the same host."""
    host, ends = urlparse(url).hostname, time.monotonic() + budget
    for _ in range(MAX_REDIRECTS + 1):
        left = ends - time.monotonic()
        if left <= 0.1:
            return Answer("retry", error=f"no answer within {budget:g} s")
        timeout = min(timeout, left)
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with _opener.open(request, timeout=timeout) as response:
                return Answer.of_status(response.status)
        except urllib.error.HTTPError as exc:
            status, location = exc.code, exc.headers.get("Location") if exc.headers else None
            note = _snippet(exc)
            exc.close()
            if 300 <= status < 400 and location:
                target = urljoin(url, location)
                if urlparse(target).hostname == host and urlparse(target).scheme in ("http", "https"):
                    url = target
                    continue
                return Answer.of_status(status, f"redirect to another host ({urlparse(target).hostname}) not followed")
            return Answer.of_status(status, note, _retry_after(exc.headers))
        except (socket.timeout, TimeoutError):
            return Answer("retry", error=f"no answer within {timeout:g} s")
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                return Answer("retry", error=f"no answer within {timeout:g} s")
            return Answer("retry", error=f"unreachable: {reason}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return Answer("retry", error=f"{type(exc).__name__}: {exc}"[:200])
    return Answer("give-up", error=f"more than {MAX_REDIRECTS} redirects")


def _snippet(exc: urllib.error.HTTPError) -> str:
    """The start of an error answer (it often says why), printable, for the delivery record."""
    try:
        raw = exc.read(200)
    except Exception:   # the answer is only a hint: an unreadable one is no error of ours
        return ""
    return "".join(c if c.isprintable() else " " for c in raw.decode("utf-8", "replace")).strip()


def _retry_after(headers) -> float | None:
    value = ((headers.get("Retry-After") if headers else None) or "").strip()
    return float(min(MAX_RETRY, int(value))) if value.isascii() and value.isdigit() else None


class EventWebhooks:
    """Opens, delivers and retries the event webhooks of one deployment."""

    def __init__(self, connection: redis.Redis, keys: Keys, jobs: JobQueue, *, url: str | None,
                 secret: str | None, max_age: float, keep: float = DEFAULT_KEEP):
        self.redis = connection
        self.keys = keys
        self.jobs = jobs
        self.url = url
        self.secret = secret or ""
        self.max_age = max_age
        self.keep = int(keep)
        self.store = Store(connection, keys=keys)   # its scripts: handoff/lua/delivery_*.lua and claim.lua

    # -- the dispatcher's side --------------------------------------------------------------------
    def handle(self, events: Sequence[Event], round_) -> None:
        """Dispatcher handler: open a delivery and enqueue its first try, in the dispatcher's MULTI."""
        if not self.url:
            return
        batch = round_.batch
        lease = f"{time.time() + LEASE:.3f}"
        ttl = int(self.max_age + LEASE + 3600)    # a pending record outlives its last possible try
        for event in events:
            self.store.run("delivery_open", [self.keys.deliveries(), self.keys.delivery(event.id)],
                           [event.id, envelope(event), f"{event_epoch(event.id):.3f}", lease, ttl, event.transfer_id,
                            event.type], batch=batch)
            self.jobs.enqueue("deliver_event", event.id, lease, batch=batch)

    def claim_due(self, store, *, limit: int = 100) -> int:
        """Lease the deliveries whose try is due (or whose job died) and enqueue them; how many."""
        later, due = self.store.claim(self.keys.deliveries(), lease=LEASE, limit=limit)
        if due:
            batch = store.batch()
            for event_id in due:
                self.jobs.enqueue("deliver_event", event_id, later, batch=batch)   # Store.claim decodes them
            store.execute(batch)
        return len(due)

    # -- the job's side ---------------------------------------------------------------------------
    def deliver(self, event_id: str, lease: str | None = None) -> str | None:
        """One try of one delivery (the job `deliver_event`); returns the verdict, None if not ours."""
        taken = self.store.run("delivery_take", [self.keys.deliveries(), self.keys.delivery(event_id)],
                               [event_id, lease or "", f"{time.time() + LEASE:.3f}"])
        if not taken:
            return None    # delivered, given up, or a newer claim's job has it
        tries, body, first_at = int(taken[0]), taken[1] or b"", float(decode(taken[2]) or time.time())
        if not self.url:
            answer = Answer("give-up", error="EVENTS_URL is not set")
        else:
            answer = post(self.url, body, self.headers(event_id, body, tries, decode(taken[3])))
        self._record(event_id, tries, first_at, answer)
        return answer.verdict

    def headers(self, event_id: str, body: bytes, attempt: int, event_type: str) -> dict[str, str]:
        """The headers of one try (the signature's timestamp is the try's)."""
        return {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                webhook_signature.HEADER: webhook_signature.sign(self.secret, body),
                "Handoff-Event-Id": event_id, "Handoff-Event-Type": event_type,
                "Handoff-Delivery-Attempt": str(attempt)}

    def _record(self, event_id: str, tries: int, first_at: float, answer: Answer) -> None:
        now = time.time()
        key, fields = self.keys.delivery(event_id), {"last_status": answer.status or "",
                                                     "last_error": answer.error, "last_at": f"{now:.3f}"}
        verdict, due = answer.verdict, 0.0
        if verdict == "retry":
            due = min(now + backoff(tries, retry_after=answer.retry_after), first_at + self.max_age)
            if due <= now + 0.5:
                verdict = "give-up"
                fields["last_error"] = f"{answer.error}; retried for {self.max_age:g} s (EVENTS_MAX_AGE_SECONDS)"
        pipe = self.redis.pipeline(transaction=True)
        if verdict == "retry":
            pipe.hset(key, mapping={**fields, "next_at": f"{due:.3f}"})
            pipe.zadd(self.keys.deliveries(), {event_id: due})
        else:
            status = {"delivered": "delivered", "gone": "gone"}.get(verdict, "given-up")
            pipe.hset(key, mapping={**fields, "status": status, "finished_at": f"{now:.3f}", "next_at": ""})
            if verdict == "delivered":
                pipe.hdel(key, "body")          # only its summary is kept
            pipe.expire(key, min(self.keep, KEEP_DELIVERED) if verdict == "delivered" else self.keep)
            pipe.zrem(self.keys.deliveries(), event_id)
        # Counted with the record, in the all-time totals (/metrics reads them; analytics skips them).
        pipe.hincrby(self.keys.analytics("totals"), f"{COUNTER}|{COUNTED[verdict]}", 1)
        pipe.execute()
        if verdict == "retry":
            log.info("event webhook %s: try %d failed (%s); next in %.0f s", event_id, tries, answer.error, due - now)
        elif verdict == "delivered":
            log.debug("event webhook %s delivered on try %d", event_id, tries)
        else:
            log.warning("event webhook %s %s after %d tries: %s", event_id,
                        "stopped (410 Gone)" if verdict == "gone" else "given up", tries, fields["last_error"])

    # -- reading ----------------------------------------------------------------------------------
    def status(self, event_id: str) -> dict[str, Any] | None:
        """The delivery's summary (see `delivery_status`)."""
        return delivery_status(self.redis, self.keys, event_id)


def delivery_status(connection: redis.Redis, keys: Keys, event_id: str) -> dict[str, Any] | None:
    """An event's webhook delivery: status (pending | delivered | gone | given-up), tries, last
    status and error, and when it was first due, last tried, finished or is next due; None if there
    was none (EVENTS_URL unset then) or it has expired."""
    return delivery_statuses(connection, keys, [event_id]).get(event_id)


def delivery_statuses(connection: redis.Redis, keys: Keys, event_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`delivery_status` of many events in one round trip (a transfer's timeline): id -> summary."""
    pipe = connection.pipeline(transaction=False)
    for event_id in event_ids:
        pipe.hgetall(keys.delivery(event_id))
    found = {}
    for event_id, raw in zip(event_ids, pipe.execute()):
        if raw:
            data = {decode(k): decode(v) for k, v in raw.items() if decode(k) != "body"}
            found[event_id] = {
                "status": data.get("status", "pending"), "tries": int(data.get("tries") or 0),
                "last_status": int(data["last_status"]) if (data.get("last_status") or "").isdigit() else None,
                "last_error": data.get("last_error") or None, "first_at": _float(data.get("first_at")),
                "last_at": _float(data.get("last_at")), "next_at": _float(data.get("next_at")),
                "finished_at": _float(data.get("finished_at"))}
    return found


def build_event_webhooks(runtime) -> EventWebhooks:
    """The deployment's event webhooks, from a Runtime (its config, Redis and key prefix)."""
    from rq import Queue

    config, keys = runtime.config, runtime.store.keys
    return EventWebhooks(runtime.redis, keys, JobQueue(Queue(keys.queue_name(QUEUE), connection=runtime.redis)),
                         url=config.events_url, secret=config.events_secret, max_age=config.events_max_age,
                         keep=config.state_ttl)


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None
