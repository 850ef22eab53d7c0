"""The Inspector's live feed: one Server-Sent Events stream per open page, fed by the process's FeedHub.

The hub is the one /api/events uses (blueprints/api_events.feed_hub): one Redis reader per process,
whatever the number of pages. A stream holds one web thread while its page is open, waiting on the
hub's in-memory queue. It ends after STREAM_SECONDS so threads are handed back regularly; the
browser's EventSource reconnects with Last-Event-ID and misses nothing. Every frame is
`event: transfer` (the page needs one listener, whatever the event's type), `id:` the event id and
`data:` the event's JSON. When the process already serves as many streams as it may, the answer is
an `event: busy` frame with a long retry: the page polls until a stream is free.
"""
from __future__ import annotations

import json
import time

from flask import Response, request

from handoff.feed_hub import HubFull, SubscriptionClosed, stream_id

from .api_events import feed_hub

STREAM_SECONDS = 300      # a stream's life before the browser reconnects
KEEPALIVE_SECONDS = 15    # a comment this often: proxies keep the connection, a closed page frees its thread
RETRY_MS = 1000           # EventSource's reconnection delay
BUSY_RETRY_MS = 10000
_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def _resume_from() -> str | None:
    """Last-Event-ID (a reconnecting EventSource), else ?after= (the id the page was rendered at)."""
    for value in (request.headers.get("Last-Event-ID"), request.args.get("after")):
        if value:
            try:
                stream_id(value.strip())
                return value.strip()
            except ValueError:
                continue
    return None


def _frame(event) -> str:
    body = json.dumps(event.to_dict(), separators=(",", ":"), default=str)
    return f"id: {event.id}\nevent: transfer\ndata: {body}\n\n"


def stream() -> Response:
    """GET /inspector/stream: every transfer's events, as they happen."""
    try:
        subscription = feed_hub().subscribe(_resume_from())
    except HubFull as exc:
        busy = f"retry: {BUSY_RETRY_MS}\nevent: busy\ndata: {json.dumps({'reason': str(exc)})}\n\n"
        return Response(busy, mimetype="text/event-stream", headers=_HEADERS)

    def generate():
        deadline = time.monotonic() + STREAM_SECONDS
        try:
            yield f"retry: {RETRY_MS}\n: live\n\n"       # sends the headers now: the page shows "Live"
            while time.monotonic() < deadline:
                try:
                    events = subscription.get(timeout=KEEPALIVE_SECONDS)
                except SubscriptionClosed:
                    return       # fell behind or the hub closed: the browser resumes from its last id
                yield "".join(_frame(e) for e in events) if events else ": keep-alive\n\n"
        finally:
            subscription.close()

    return Response(generate(), mimetype="text/event-stream", headers=_HEADERS)
