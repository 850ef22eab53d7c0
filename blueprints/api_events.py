"""Transfer events as JSON, and live as Server-Sent Events: GET /api/transfers/{id}/events and GET /api/events.

A stream replays what its client missed (after `Last-Event-ID`, which a browser's EventSource sends
by itself when it reconnects) and then follows live, through the process's FeedHub: no stream
holds a Redis connection of its own. Each event is `id:` (the stream id), `event:` (its type) and
`data:` (its JSON, as in the JSON answers); a comment every 15 s keeps proxies from closing an idle
stream. A stream ends after MAX_STREAM_SECONDS (the client reconnects and resumes), and a
transfer's stream a few seconds after its `completed` event (with `event: end`). A reconnect to a
transfer that finished with nothing new answers 204, which tells EventSource to stop.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from typing import Iterable

import redis
from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import ValidationError

from handoff.events import Event
from handoff.feed_hub import FeedHub, HubFull, Subscription, SubscriptionClosed

from .errors import ApiError
from .api import check_transfer_id
from .listing_schemas import ID_PATTERN, EVENT_ID, EventSchema, EventsQuery, query_args
from .openapi import doc
from .security import bearer_token

bp = Blueprint("api_events", __name__, url_prefix="/api")
log = logging.getLogger("handoff.api")

HEARTBEAT_SECONDS = 15.0
MAX_STREAM_SECONDS = 300.0         # then EventSource reconnects with Last-Event-ID
COMPLETED_GRACE_SECONDS = 10.0     # events still follow an outcome (the caller returned, legs left)
RETRY_MS = 3000                    # how long EventSource waits before it reconnects
BUSY_RETRY_MS = 10000
MAX_STREAMS = 24                   # live streams per web process (each holds a gunicorn thread: see README)
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_hub_lock = threading.Lock()
_query = EventsQuery()
_LAST_EVENT_ID = {"name": "Last-Event-ID", "schema": {"type": "string", "pattern": ID_PATTERN, "maxLength": 41},
                  "description": "Resume a stream after this event id (EventSource sends it on reconnect)."}
_SSE = {"text/event-stream": {"schema": {
    "type": "string", "description": "With `Accept: text/event-stream` or `?stream=1`: Server-Sent Events, "
                                     "`id:` the event id, `event:` its type, `data:` the event's JSON."}}}


def feed_hub(app=None) -> FeedHub:
    """The process's hub (made on first use: building the app starts no thread)."""
    app = app or current_app
    hub = app.extensions.get("feed_hub")
    if hub is None:
        with _hub_lock:
            hub = app.extensions.get("feed_hub")
            if hub is None:
                runtime = app.extensions["handoff"]
                limit = app.config.get("HANDOFF_MAX_STREAMS", MAX_STREAMS)
                hub = app.extensions["feed_hub"] = FeedHub(runtime.events, max_subscribers=int(limit))
    return hub


def _format(event: Event) -> str:
    kind = "".join(ch for ch in event.type if ch not in "\r\n") or "message"
    return f"id: {event.id}\nevent: {kind}\ndata: {event.compact_json}\n\n"


def event_stream(subscription: Subscription, *, finish_at: float | None = None, finish_on_completed: bool = False,
                 max_seconds: float | None = None, heartbeat: float | None = None,
                 grace: float | None = None) -> Response:
    """A Server-Sent Events response that writes the subscription's events until it ends.

    `finish_at` (epoch seconds): end then (once the replay is written); `finish_on_completed`: end
    `grace` seconds after a `completed` event. Reusable by other blueprints (the Inspector)."""
    config = current_app.config
    max_seconds = max_seconds or float(config.get("HANDOFF_SSE_MAX_SECONDS", MAX_STREAM_SECONDS))
    heartbeat = heartbeat or float(config.get("HANDOFF_SSE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS))
    grace = grace if grace is not None else float(config.get("HANDOFF_SSE_GRACE_SECONDS", COMPLETED_GRACE_SECONDS))

    def generate() -> Iterable[str]:
        finish = finish_at
        try:
            yield f"retry: {RETRY_MS}\n\n"      # sends the headers at once, and sets the reconnect delay
            started = last_write = time.time()
            while True:
                now = time.time()
                stop = min(started + max_seconds, finish if finish is not None else float("inf"))
                if now >= stop and not subscription.replaying:
                    break
                wait = max(0.0, min(last_write + heartbeat, stop) - now)
                try:
                    events = subscription.get(timeout=wait)
                except SubscriptionClosed:
                    return                       # fell behind or the hub closed: the client resumes
                except redis.RedisError as exc:  # the headers are sent: end the stream, the client resumes
                    log.warning("event stream ended: Redis unavailable (%s)", exc)
                    return
                if events:
                    yield "".join(_format(e) for e in events)
                    last_write = time.time()
                    if finish_on_completed and any(e.is_end for e in events):
                        finish = min(finish or float("inf"), time.time() + grace)
                elif time.time() >= last_write + heartbeat:
                    yield ": keep-alive\n\n"
                    last_write = time.time()
            if finish is not None and time.time() >= finish:
                yield 'event: end\ndata: {"reason":"completed"}\n\n'
        finally:
            subscription.close()

    response = Response(generate(), mimetype="text/event-stream")
    response.headers.update(_STREAM_HEADERS)
    response.call_on_close(subscription.close)   # also when the body is never read (HEAD, a failed send)
    return response


def _busy(exc: HubFull) -> Response:
    """A full process still answers a stream, one that asks EventSource to come back later."""
    body = f"retry: {BUSY_RETRY_MS}\nevent: busy\ndata: {json.dumps({'reason': str(exc)})}\n\n"
    response = Response(body, mimetype="text/event-stream")
    response.headers.update(_STREAM_HEADERS)
    return response


def _read_query() -> tuple[dict, bool, str | None]:
    """The query, whether a stream is wanted, and where a stream resumes (Last-Event-ID first)."""
    query = _query.load(query_args(_query))
    wanted = request.accept_mimetypes.best_match(["application/json", "text/event-stream"])
    stream = query["stream"] or wanted == "text/event-stream"
    header = request.headers.get("Last-Event-ID", "").strip()
    if header:
        try:
            EVENT_ID(header)
        except ValidationError:
            raise ApiError(422, "invalid_request", "Last-Event-ID must be an event id such as 1700000000000-0",
                           fields={"Last-Event-ID": ["must be a stream event id"]}) from None
    return query, stream, header or query["last_event_id"] or query["after"]


def _epoch(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


def _subscribe(after: str | None, transfer_id: str | None = None) -> Subscription:
    try:
        return feed_hub().subscribe(after, transfer_id=transfer_id)
    except ValueError:
        raise ApiError(422, "invalid_request", "not an event id", fields={"last_event_id": ["not an event id"]}) \
            from None


@bp.get("/transfers/<transfer_id>/events")
@bearer_token
@doc(query=EventsQuery, headers=[_LAST_EVENT_ID], response=EventSchema(many=True), content=_SSE, tags=["events"])
def transfer_events(transfer_id: str):
    """The transfer's events, oldest first, as JSON or as a live stream (Server-Sent Events).

    A stream first sends the events after `Last-Event-ID` (all of them without it), then each new
    one as it happens; it ends a few seconds after the transfer's `completed` event. A reconnect
    after that, with nothing new, is answered 204.
    """
    query, stream, after = _read_query()
    runtime = current_app.extensions["handoff"]
    check_transfer_id(transfer_id, f"No transfer {transfer_id}")
    transfer = runtime.store.get_transfer(transfer_id)
    if transfer is None:
        raise ApiError(404, "not_found", f"No transfer {transfer_id}")
    if not stream:
        events = runtime.events.history(transfer_id, after=query["after"], limit=query["limit"] or 500)
        return jsonify([e.to_dict() for e in events])
    finish_at = None
    if transfer.status.is_finished:
        grace = float(current_app.config.get("HANDOFF_SSE_GRACE_SECONDS", COMPLETED_GRACE_SECONDS))
        finish_at = (_epoch(transfer.fields.get("finished_at")) or 0.0) + grace
        if finish_at <= time.time() and after and not runtime.events.history(transfer_id, after=after, limit=1):
            return Response(status=204, headers=_STREAM_HEADERS)   # over, nothing new: EventSource stops
    try:
        subscription = _subscribe(after or "0-0", transfer_id)
    except HubFull as exc:
        return _busy(exc)
    return event_stream(subscription, finish_at=finish_at, finish_on_completed=True)


@bp.get("/events")
@bearer_token
@doc(query=EventsQuery, headers=[_LAST_EVENT_ID], response=EventSchema(many=True), content=_SSE, tags=["events"])
def feed_events():
    """Every transfer's events, as JSON or as a live stream (Server-Sent Events).

    JSON: the events after `after` (oldest first), or the newest ones without it. A stream sends
    the events after `Last-Event-ID` (none without it), then every new one; it ends after a few
    minutes and EventSource resumes it where it stopped.
    """
    query, stream, after = _read_query()
    events = current_app.extensions["handoff"].events
    if not stream:
        found = events.feed(after=query["after"], count=query["limit"] or 500) if query["after"] else \
            events.recent(count=query["limit"] or 100)
        return jsonify([e.to_dict() for e in found])
    try:
        subscription = _subscribe(after)
    except HubFull as exc:
        return _busy(exc)
    return event_stream(subscription)


def close_hub(app) -> None:
    """Stop the process's feed reader, if it started (tests)."""
    hub: FeedHub | None = app.extensions.get("feed_hub")
    if hub is not None:
        hub.close()


__all__ = ["bp", "close_hub", "event_stream", "feed_hub"]
