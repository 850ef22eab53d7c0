"""2. Transfer start latency: from `POST /api/calls/{sid}/transfers` to the first Twilio REST
request for that call reaching the simulator (a cold transfer's `calls(sid).update`).

The simulator stamps each REST request with time.time() on arrival, before any injected
latency (simulator/rest.py); the POST is stamped just before it is sent, on the same host clock.
Transfers are started open-loop at a fixed rate so that a slow worker cannot slow the load.
"""
from __future__ import annotations

import time

from bench.common import (BUSY_PERSONA, Sampler, Sessions, distribution, first_rest_requests, paced, place_calls,
                          post_transfer, wait_transfers)
from bench.stack import Stack

WARMUP_TRANSFERS = 10               # first jobs of each worker process import and connect: not counted


def run(stack: Stack, count: int, rate: float) -> dict:
    """`count` cold transfers at `rate` per second; latency distribution in ms."""
    stack.sim.add_persona({"address": BUSY_PERSONA, "kind": "busy"})
    callers = place_calls(stack, count + WARMUP_TRANSFERS)
    local = Sessions({"Authorization": stack.api.headers["Authorization"]})
    body = {"to": "busy_desk", "mode": "cold"}
    for sid in callers[:WARMUP_TRANSFERS]:
        post_transfer(stack, local.session, sid, body)
    callers = callers[WARMUP_TRANSFERS:]
    time.sleep(1.0)
    depth = QueueDepth(stack)
    began = time.monotonic()
    with depth:
        posts = paced(count, rate, lambda i: (*post_transfer(stack, local.session, callers[i], body), time.time()),
                      threads=8)
        load_seconds = time.monotonic() - began
        drained = depth.wait_empty(timeout=120)
    transfer_ids = [p[1] for p in posts if p and p[1]]
    _, unfinished = wait_transfers(stack, transfer_ids, timeout=60)
    first = first_rest_requests(stack)
    latencies, api, missing = [], [], []
    for sid, post in zip(callers, posts):
        if not post or post[2] != 202:
            missing.append(sid)
            continue
        sent, transfer_id, _, answered = post
        api.append(answered - sent)
        if sid in first and first[sid] >= sent:
            latencies.append(first[sid] - sent)
        else:
            missing.append(transfer_id or sid)
    return {"transfers": count, "rate_per_s": rate, "load_seconds": round(load_seconds, 1),
            "queue": {"max_depth": depth.max_depth, "depth_at_end_of_load": depth.at_end_of_load,
                      "drained_s_after_load": drained},
            "start_latency_ms": distribution(latencies, 1000), "api_response_ms": distribution(api, 1000),
            "without_rest_request": missing[:10], "without_rest_request_count": len(missing),
            "unfinished": unfinished[:10], "unfinished_count": len(unfinished)}


class QueueDepth(Sampler):
    """Samples the transfers queue's length (RQ jobs waiting) every 0.1 s while in use."""

    def __init__(self, stack: Stack):
        from rq import Queue

        from handoff.keys import Keys

        self.queue = Queue(Keys(stack.env["REDIS_KEY_PREFIX"]).queue_name(), connection=stack.redis)
        self.max_depth = 0
        self.at_end_of_load = None

    def sample(self) -> None:
        self.max_depth = max(self.max_depth, self.queue.count)

    def wait_empty(self, timeout: float) -> float | None:
        """Seconds from now until the queue is empty (None if it never was within `timeout`)."""
        began = time.monotonic()
        self.at_end_of_load = self.queue.count
        while time.monotonic() - began < timeout:
            if self.queue.count == 0:
                return round(time.monotonic() - began, 2)
            time.sleep(0.05)
        return None
