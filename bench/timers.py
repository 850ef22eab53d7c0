"""3. Timer precision: warm transfers with a 2 s accept timeout that nobody meets.

What the service does (handoff/transfers.py `_start_whisper`, twiml.whisper_prompt): the 2 s
accept window is enforced by Twilio itself, as the `timeout` of two <Gather> prompts followed by
a <Redirect> to the key action with no Digits. The service's own RQ timer for that window is a
backstop armed at 20 + 2 x (accept_timeout + 5) = 34 s, and it is cancelled when the no-key
callback arrives, so it does not fire. The RQ timers that do fire in these transfers are the ring
timers (`handoff-timer-<transfer>-0-all-ring`, due at timeout + 5 s = 7 s), which find the
transfer already finished and do nothing: their precision is what we measure, from
  * the deadline: the float score JobQueue.schedule writes to RQ's scheduled registry
    (polled every 50 ms while the transfers run, since the scheduler removes it when due),
  * when the scheduler moved the job to the queue (the job's `enqueued_at`), and
  * when a worker started it (`started_at`): lateness = started_at - deadline.
We also report the accept window as Twilio enforced it: 'whisper-played' to 'no-key'.
"""
from __future__ import annotations

import threading
import time

from rq.registry import ScheduledJobRegistry

from bench.common import Sessions, distribution, iso_ts, paced, place_calls, post_transfer, wait_transfers
from bench.stack import Stack

SILENT_PERSONA = "+14155550203"
RING_TIMEOUT = 2          # the API's `timeout`: ring timer due at RING_TIMEOUT + RING_GRACE (5 s)


def _batch(stack: Stack, count: int, rate: float, *, wait_for_timers: float) -> dict:
    """`count` warm transfers at `rate`/s to a recipient who never presses a key; then wait (at most
    `wait_for_timers` s past the last deadline) for their ring timers to run, and read when they did."""
    from handoff.keys import Keys

    stack.sim.add_persona({"address": SILENT_PERSONA, "kind": "human", "answer_after": 0.1, "press": None})
    callers = place_calls(stack, count)
    registry_key = ScheduledJobRegistry(Keys(stack.env["REDIS_KEY_PREFIX"]).queue_name(),
                                        connection=stack.redis).key
    deadlines: dict[str, float] = {}
    stop = threading.Event()

    def poll():   # bounded: stops when told, or after 180 s
        until = time.monotonic() + 180
        while not stop.is_set() and time.monotonic() < until:
            for job_id, score in stack.redis.zrange(registry_key, 0, -1, withscores=True):
                deadlines.setdefault(job_id.decode(), score)
            stop.wait(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    local = Sessions({"Authorization": stack.api.headers["Authorization"]})
    body = {"to": SILENT_PERSONA, "mode": "warm", "timeout": RING_TIMEOUT}
    posts = paced(count, rate, lambda i: post_transfer(stack, local.session, callers[i], body))
    ids = [p[1] for p in posts if p and p[1]]
    views, unfinished = wait_transfers(stack, ids, timeout=60, idle_timeout=20)
    timer_ids = {t: f"handoff-timer-{t}-0-all-ring" for t in ids}
    last_due = max([deadlines.get(j, 0) for j in timer_ids.values()] + [time.time()])
    jobs = {}
    while True:
        pipe = stack.redis.pipeline()
        for job_id in timer_ids.values():
            pipe.hmget(f"rq:job:{job_id}", "enqueued_at", "started_at")
        jobs = dict(zip(timer_ids.values(), pipe.execute()))
        if all(v[1] for v in jobs.values()) or time.time() > last_due + wait_for_timers:
            break
        time.sleep(0.25)
    stop.set()
    poller.join(timeout=5)

    late, scheduler_lag, early, not_run, unknown_deadline = [], [], [], [], []
    for transfer_id, job_id in timer_ids.items():
        enqueued, started = jobs.get(job_id, (None, None))
        if job_id not in deadlines:
            unknown_deadline.append(transfer_id)
            continue
        if not started:
            not_run.append(transfer_id)
            continue
        due = deadlines[job_id]
        start_ts = iso_ts(started.decode())
        late.append(start_ts - due)
        if enqueued:
            scheduler_lag.append(iso_ts(enqueued.decode()) - due)
        if start_ts < due:
            early.append(transfer_id)

    windows, outcomes = [], {}
    for transfer_id in ids:
        view = views.get(transfer_id) or {}
        outcomes[view.get("outcome")] = outcomes.get(view.get("outcome"), 0) + 1
        events = {e["event"]: e.get("at") for e in view.get("timeline", [])}
        if events.get("whisper-played") and events.get("no-key"):
            windows.append(iso_ts(events["no-key"]) - iso_ts(events["whisper-played"]))
    return {"transfers": count, "rate_per_s": rate, "timers": len(timer_ids),
            "timers_run": len(late), "timers_not_run": len(not_run), "waited_past_deadline_s": wait_for_timers,
            "late_ms": distribution(late, 1000), "scheduler_lag_ms": distribution(scheduler_lag, 1000),
            "fired_early": len(early), "early_ids": early[:5], "deadline_not_seen": len(unknown_deadline),
            "accept_window_s": distribution(windows, 1, 3), "outcomes": outcomes,
            "unfinished": unfinished[:10], "unfinished_count": len(unfinished)}


def measure(stack: Stack, count: int = 200, rate: float = 40.0) -> dict:
    return {"timer": "RQ ring timer, due at dial + 7 s (timeout 2 + RING_GRACE 5)",
            **_batch(stack, count, rate, wait_for_timers=30.0)}
