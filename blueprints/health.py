"""GET /healthz: Redis reachable, queue depth, a worker seen recently."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify
from rq import Worker

bp = Blueprint("health", __name__)

WORKER_STALE_SECONDS = 120


@bp.get("/healthz")
def healthz():
    """200 when Redis answers and a worker is alive; 503 with the reason otherwise."""
    runtime = current_app.extensions["handoff"]
    body = {"redis": "down", "queue_depth": None, "workers": 0, "worker_seen_seconds_ago": None}
    try:
        runtime.redis.ping()
        body["redis"] = "ok"
        queue = runtime.jobs.queue
        body["queue_depth"] = queue.count
        workers = Worker.all(queue=queue)
        body["workers"] = len(workers)
        beats = [w.last_heartbeat for w in workers if w.last_heartbeat]
        if beats:
            newest = max(beats).replace(tzinfo=timezone.utc) if max(beats).tzinfo is None else max(beats)
            body["worker_seen_seconds_ago"] = round((datetime.now(timezone.utc) - newest).total_seconds(), 1)
    except Exception as exc:   # Redis down: say so, don't 500
        body["error"] = str(exc)
    healthy = body["redis"] == "ok" and body["worker_seen_seconds_ago"] is not None \
        and body["worker_seen_seconds_ago"] < WORKER_STALE_SECONDS
    body["status"] = "ok" if healthy else "degraded"
    return jsonify(body), 200 if healthy else 503
