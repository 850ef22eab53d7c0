"""GET /metrics for Prometheus (bearer METRICS_TOKEN when set), and the Twilio webhooks' latency timer."""
from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, current_app, request

from handoff import metrics

from .errors import ApiError
from .security import bearer_from, match_token

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    """Every local process's instruments and the domain figures from Redis, in Prometheus' text format."""
    runtime = current_app.extensions["handoff"]
    expected = runtime.config.metrics_token
    if expected:
        if match_token(bearer_from(request.headers.get("Authorization", "")).strip(), [expected]) is None:
            raise ApiError(401, "unauthorized", "Missing or invalid bearer token (METRICS_TOKEN)",
                           headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    registry = current_app.extensions.get("metrics_registry")
    if registry is None:   # built once per app; a race builds two equal ones, which is harmless
        registry = current_app.extensions["metrics_registry"] = metrics.build_registry(
            runtime.redis, runtime.store.keys)
    body, content_type = metrics.exposition(registry, request.headers.get("Accept"))
    return Response(body, status=200, content_type=content_type, headers={"Cache-Control": "no-store"})


def time_webhooks(app: Flask, *blueprints: Blueprint) -> None:
    """Observe each request to these blueprints (Twilio's webhooks) in a latency histogram, by route and
    status. App-level hooks filtered by blueprint name: module-level blueprints serve several apps."""
    names = frozenset(b.name for b in blueprints)

    def started() -> None:
        req = request._get_current_object()
        if req.blueprint in names:
            req.handoff_webhook_started = time.perf_counter()

    def finished(response):
        req = request._get_current_object()
        began = getattr(req, "handoff_webhook_started", None)
        if began is not None:
            metrics.observe_webhook(req.endpoint or "unknown", response.status_code, time.perf_counter() - began)
        return response

    # First in line, so a refusal by an earlier hook (413) is timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, started)
    app.after_request(finished)
