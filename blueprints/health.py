"""GET /healthz: Redis reachable, a sweeper (the deadlines' timer) and a worker seen recently."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify
from rq import Worker

from handoff.transfer.recovery import sweeper_health

bp = Blueprint("health", __name__)

WORKER_STALE_SECONDS = 120


@bp.get("/healthz")
def healthz():
    """200 when Redis answers and a worker and a sweeper are alive; 503 naming what is not."""
    runtime = current_app.extensions["handoff"]
    body = {"redis": "down", "queue_depth": None, "workers": 0, "worker_seen_seconds_ago": None,
            "sweeper": None, "sweeper_seen_seconds_ago": None, "deadlines_overdue": None}
    problems = []
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
        sweeper = sweeper_health(runtime.store)
        body.update({k: v for k, v in sweeper.items() if k != "sweeper_ok"})
        if not sweeper["sweeper_ok"]:
            problems.append("no deadline sweeper has been seen recently: timeouts and recovery are not running"
                            " (start the worker process)")
    except Exception as exc:   # Redis down: say so, don't 500
        body["error"] = str(exc)
        problems.append(f"Redis is unreachable: {exc}")
    if body["redis"] == "ok" and (body["worker_seen_seconds_ago"] is None
                                  or body["worker_seen_seconds_ago"] >= WORKER_STALE_SECONDS):
        problems.append("no worker has been seen recently")
    body["problems"] = problems
    body["status"] = "degraded" if problems else "ok"
    return jsonify(body), 503 if problems else 200
