"""4. Scale: 500 warm transfers in flight at once through the simulator, recipients accepting
(press 1, then talk until 30 s after answering), declining (press 2) and never pressing a key (timeout).

Every transfer must end with exactly one outcome, the one its recipient's behaviour implies.
Reports wall time (first POST to the last outcome decided: key 1 pressed or the transfer completed;
and to the last finished_at, which includes the accepted calls' 30 s of talk), how long an
answering recipient waits for the whisper (the worker queue under a burst), Redis memory per transfer
(INFO used_memory when the last transfer finished minus before the first POST), and worker
CPU per transfer (user+system of `python -m workers` and its children, from /proc).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import Sessions, distribution, iso_ts, place_calls, post_transfer, wait_transfers
from bench.stack import Stack

# The simulator counts hangup_after from the answer: long enough to hear the whisper and press 1
# even under load (a recipient who hangs up right after pressing 1 hits a bug: see BENCHMARKS.md).
ACCEPTED_TALK = 30.0
PERSONAS = {
    "accept": ({"address": "+14155550211", "kind": "human", "answer_after": 0.1, "press": "1",
                "hangup_after": ACCEPTED_TALK}, "transfer-success"),
    "decline": ({"address": "+14155550212", "kind": "human", "answer_after": 0.1, "press": "2"},
                "transfer-screening-rejected"),
    "timeout": ({"address": "+14155550213", "kind": "human", "answer_after": 0.1, "press": None},
                "transfer-failed-timeout"),
}
TERMINAL_EVENTS = ("completed",)


def measure(stack: Stack, count: int = 500) -> dict:
    for persona, _ in PERSONAS.values():
        stack.sim.add_persona(persona)
    kinds = list(PERSONAS)
    callers = place_calls(stack, count, caller_base=14155556000, timeout=120)
    local = Sessions({"Authorization": stack.api.headers["Authorization"]})
    time.sleep(1.0)
    memory_before = stack.redis.info("memory")["used_memory"]
    cpu_before = {name: stack.cpu_seconds(name) for name in ("workers", "app", "simulator")}

    def start(i):
        kind = kinds[i % len(kinds)]
        sent, transfer_id, status = post_transfer(stack, local.session, callers[i], {
            "to": PERSONAS[kind][0]["address"], "mode": "warm", "timeout": 10})
        return kind, sent, transfer_id, status

    began = time.time()
    with ThreadPoolExecutor(max_workers=8) as pool:
        started = list(pool.map(start, range(count)))
    posted_seconds = time.time() - began
    ids = [s[2] for s in started if s[2]]
    views, unfinished = wait_transfers(stack, ids, timeout=180, idle_timeout=30)
    finished_wall = time.time()
    memory_after = stack.redis.info("memory")["used_memory"]
    cpu_after = {name: stack.cpu_seconds(name) for name in cpu_before}

    outcomes: dict[str, dict[str, int]] = {k: {} for k in kinds}
    wrong, multiple, durations, finished, slowest, decided, whisper_delay = [], [], [], [], [], [], []
    for kind, sent, transfer_id, status in started:
        if not transfer_id:
            wrong.append({"call": None, "http_status": status, "expected": PERSONAS[kind][1]})
            continue
        view = views.get(transfer_id, {})
        outcome = view.get("outcome")
        outcomes[kind][str(outcome)] = outcomes[kind].get(str(outcome), 0) + 1
        terminal = [e for e in view.get("timeline", []) if e["event"] in TERMINAL_EVENTS]
        if len(terminal) != 1 or len({e.get("outcome") for e in terminal}) != 1:
            multiple.append(transfer_id)
        if view.get("status") != "completed" or outcome != PERSONAS[kind][1]:
            wrong.append({"transfer": transfer_id, "kind": kind, "status": view.get("status"), "outcome": outcome,
                          "expected": PERSONAS[kind][1],
                          "timeline": [(e.get("at"), e["event"], e.get("outcome") or e.get("detail") or "")
                                       for e in view.get("timeline", [])]})
        times = {}
        for e in view.get("timeline", []):
            times.setdefault(e["event"], e.get("at"))
            if e["event"] == "key-pressed" and e.get("digits") == "1" or e["event"] == "completed":
                times.setdefault("decided", e.get("at"))
        if times.get("decided"):
            decided.append(iso_ts(times["decided"]))
        if times.get("leg-answered") and times.get("whisper-played"):
            whisper_delay.append(iso_ts(times["whisper-played"]) - iso_ts(times["leg-answered"]))
        if view.get("finished_at"):
            end = iso_ts(view["finished_at"])
            finished.append(end)
            durations.append(end - sent)
            slowest.append((end - sent, kind, transfer_id, [(e.get("at"), e["event"]) for e in view.get("timeline", [])]))
    n = len(ids) or 1
    return {
        "transfers": count, "started": len(ids), "post_seconds": round(posted_seconds, 2),
        "wall_seconds": round((max(finished) if finished else finished_wall) - began, 2),
        "decided_seconds": round(max(decided) - began, 2) if decided else None,
        "answer_to_whisper_s": distribution(whisper_delay, 1, 2),
        "transfer_duration_s": distribution(durations, 1, 2),
        "slowest": [{"seconds": round(d, 2), "kind": k, "transfer": t, "timeline": tl}
                    for d, k, t, tl in sorted(slowest, key=lambda x: x[0], reverse=True)[:3]],
        "outcomes": outcomes, "exactly_one_outcome": len(ids) - len(multiple) - len(unfinished),
        "more_than_one_terminal_event": multiple[:10], "unexpected": wrong[:5], "unexpected_count": len(wrong),
        "unfinished": unfinished[:10], "unfinished_count": len(unfinished),
        "redis_bytes_per_transfer": round((memory_after - memory_before) / n),
        "cpu_ms_per_transfer": {name: round((cpu_after[name] - cpu_before[name]) * 1000 / n, 2)
                                for name in cpu_before},
    }
