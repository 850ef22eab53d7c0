"""3. Deadline precision: how late after its deadline a waiting transfer moves on.

The engine has no scheduler: every waiting state has a deadline, written by the Lua transition
that enters it into the transfer's hash (`dl_kind`, `dl_at`, `dl_seq`) and into one sorted set
(`Keys.deadlines()`). A sweeper thread in every worker process (handoff/transfer/recovery.py,
every 0.2 s) claims passed deadlines and queues `advance`, which acts on them.

To see only that path at work: warm transfers to `never_answers` (bench/recipients.yaml), a
persona of kind no-answer, with the simulator dropping every `/leg-status` callback of the legs
(a fault rule), so nothing but the attempt deadline can end the attempt. For each transfer:
  * the deadline: `HGET transfer dl_at`, read (polled every 50 ms) as soon as the `dialing`
    transition has armed the attempt deadline (`dl_kind` = attempt), before it can pass;
  * when the transfer moved on: the `at` of its `timeout` timeline event (stage attempt), stamped
    by the `advance` job when it records the failed attempt.
lateness = timeout.at - dl_at (early if negative). Also: deadline to the caller back with the agent
(`caller-returned`), and the window itself (dl_at - `dialing`.at), which must be the same for all.
"""
from __future__ import annotations

import threading
import time

from bench.common import Sessions, distribution, iso_ts, paced, place_calls, post_transfer, wait_transfers
from bench.stack import Stack

NEVER_ANSWERS = "+14155550204"       # recipient `never_answers` (bench/recipients.yaml): warm, ring timeout 2 s
RECIPIENT = "never_answers"


def measure(stack: Stack, count: int = 200, rate: float = 20.0) -> dict:
    from handoff.keys import Keys

    keys = Keys(stack.env["REDIS_KEY_PREFIX"])
    stack.sim.add_persona({"address": NEVER_ANSWERS, "kind": "no-answer"})
    callers = place_calls(stack, count)
    local = Sessions({"Authorization": stack.api.headers["Authorization"]})
    rule = stack.sim.add_fault(target="webhook", url_contains="/leg-status", action="drop")
    try:
        return _batch(stack, keys, local, callers, rate, rule["id"])
    finally:
        stack.sim.clear_faults()


def _batch(stack: Stack, keys, local: Sessions, callers: list[str], rate: float, rule_id: str) -> dict:
    count = len(callers)
    started: list[str] = []            # transfer ids, appended as the POSTs return
    deadline_at: dict[str, float] = {}
    lock = threading.Lock()
    posting_done = threading.Event()
    stop = threading.Event()

    def poll():   # until every transfer's attempt deadline is read, or told to stop, or 120 s
        until = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < until:
            with lock:
                pending = [t for t in started if t not in deadline_at]
            if pending:
                pipe = stack.redis.pipeline(transaction=False)
                for transfer_id in pending:
                    pipe.hmget(keys.transfer(transfer_id), "dl_kind", "dl_at")
                for transfer_id, (kind, at) in zip(pending, pipe.execute()):
                    if kind == b"attempt" and at:
                        deadline_at[transfer_id] = float(at)
            elif posting_done.is_set():
                return
            stop.wait(0.05)

    def start(i):
        result = post_transfer(stack, local.session, callers[i], {"to": RECIPIENT, "mode": "warm"})
        if result[1]:
            with lock:
                started.append(result[1])
        return result

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    began = time.monotonic()
    posts = paced(count, rate, start)
    posting_done.set()
    poller.join(timeout=90)
    stop.set()
    ids = [p[1] for p in posts if p and p[1]]
    # Stay off the API while the deadlines fire (polling it would load the 2 cores we measure).
    last = max(deadline_at.values(), default=time.time())
    time.sleep(max(0.0, last - time.time() + 3.0))
    # Finished, and the caller's return recorded (it follows the `completed` status by a job).
    back = lambda view: view["status"] == "completed" and any(
        e["event"] in ("caller-returned", "caller-not-returned") for e in view["timeline"])
    views, unfinished = wait_transfers(stack, ids, timeout=60, idle_timeout=20, predicate=back)
    seconds = time.monotonic() - began

    late, early, not_moved, returned, windows, outcomes, answered = [], [], [], [], [], {}, 0
    for transfer_id in ids:
        view = views.get(transfer_id) or {}
        outcomes[str(view.get("outcome"))] = outcomes.get(str(view.get("outcome")), 0) + 1
        timeline = view.get("timeline", [])
        first = {}
        for e in timeline:
            name = e["event"]
            if name == "timeout" and e.get("stage") != "attempt":
                name = f"timeout-{e.get('stage')}"
            first.setdefault(name, e.get("at"))
        answered += "leg-answered" in first
        due = deadline_at.get(transfer_id)
        if due is None or not first.get("timeout"):
            not_moved.append({"transfer": transfer_id, "dl_at": due, "status": view.get("status"),
                              "timeline": [(e.get("at"), e["event"], e.get("stage") or e.get("detail") or "")
                                           for e in timeline]})
            continue
        moved = iso_ts(first["timeout"])
        late.append(moved - due)
        if moved < due:
            early.append(transfer_id)
        if first.get("caller-returned"):
            returned.append(iso_ts(first["caller-returned"]) - due)
        if first.get("dialing"):
            windows.append(due - iso_ts(first["dialing"]))
    hits = [h for h in stack.sim.faults().get("hits", []) if h.get("rule") == rule_id]
    return {"deadline": "warm attempt deadline armed by `dialing` (window: attempt_window_s), recipient "
                        "never answers, its legs' status callbacks dropped",
            "transfers": count, "started": len(ids), "rate_per_s": rate, "seconds": round(seconds, 1),
            "deadline_read": len(deadline_at), "late_ms": distribution(late, 1000),
            "moved_early": len(early), "early_ids": early[:5],
            "not_moved_on": len(not_moved), "not_moved_examples": not_moved[:3],
            "deadline_to_caller_returned_ms": distribution(returned, 1000),
            "attempt_window_s": distribution(windows, 1, 3),
            "leg_status_callbacks_dropped": len(hits), "legs_answered": answered,
            "outcomes": outcomes, "unfinished": unfinished[:10], "unfinished_count": len(unfinished)}
