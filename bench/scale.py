"""4. Scale: 2,000 warm transfers POSTed within 2 s through the simulator, recipients accepting
(press 1, then talk until 30 s after answering), declining (press 2) and never pressing a key (timeout).

Every transfer must end with exactly one outcome, the one its recipient's behaviour implies.
Reports wall time (first POST to the last outcome decided: key 1 pressed or the transfer completed;
and to the last finished_at, which includes the accepted calls' 30 s of talk), Redis memory per transfer
(INFO used_memory when the last transfer finished minus before the first POST), worker and web
CPU per transfer (user+system of `python -m workers` / gunicorn and their children, from /proc), and

answer -> first words heard (target p99 <= 1 s), read from the simulator's own record of each
recipient leg (`sim.timeline(leg)`): for every leg that answered, from detection's verdict (the
leg's `amd` event; its answer, status in-progress, if there is none) to the first `heard` entry
carrying speech (kind say or whisper, with text). With synchronous AMD the verdict travels in the
leg's Url request (`/leg-answer`), which answers with the whisper itself; the breakdown reports
the wait before that request and its round trip (the simulator's `webhook` event for it).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import (Sessions, burst_post, distribution, iso_ts, place_calls, redis_counters, redis_delta,
                          wait_finished, wait_transfers)

TARGET_FIRST_WORDS_P99 = 1.0     # seconds: answer (detection's verdict) -> first words heard
SPEECH = ("say", "whisper")
from bench.stack import Stack

# Every persona is kind human without `detected_as`: the simulator's detection says 'human' (after
# the bench's amd_seconds), so every answered leg is whispered to at once (no consent prompt).
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


def measure(stack: Stack, count: int = 2000, window: float = 2.0) -> dict:
    """`count` warm transfers POSTed open-loop within `window` seconds; see the module docstring."""
    for persona, _ in PERSONAS.values():
        stack.sim.add_persona(persona)
    kinds = list(PERSONAS)
    callers = place_calls(stack, count, caller_base=14155556000, timeout=max(120, count / 10))
    time.sleep(1.0)
    memory_before = stack.redis.info("memory")["used_memory"]
    cpu_before = {name: stack.cpu_seconds(name) for name in ("workers", "app", "simulator")}
    redis_before = redis_counters(stack.redis)
    sim_before = len(stack.sim.requests())
    log_before = stack.log_size("app")

    def body(i):
        return {"to": PERSONAS[kinds[i % len(kinds)]][0]["address"], "mode": "warm", "timeout": 10}

    began = time.time()
    posts = burst_post(stack, callers, body, window=window)
    ids = [p[4] for p in posts if p and p[4]]
    unfinished, poll_commands = wait_finished(stack, ids, timeout=max(300, count / 4), idle_timeout=45)
    finished_wall = time.time()
    memory_after = stack.redis.info("memory")["used_memory"]
    cpu_after = {name: stack.cpu_seconds(name) for name in cpu_before}
    redis_used = redis_delta(redis_before, redis_counters(stack.redis),
                             exclude={"hget": poll_commands, "exists": poll_commands})
    rest = stack.sim.requests()[sim_before:]
    access = stack.log_lines_since("app", log_before)
    views, _ = wait_transfers(stack, ids, timeout=120)     # after the counters: reading costs are not theirs

    outcomes: dict[str, dict[str, int]] = {k: {} for k in kinds}
    wrong, multiple, durations, finished, slowest, decided, legs = [], [], [], [], [], [], []
    for i, post in enumerate(posts):
        kind = kinds[i % len(kinds)]
        due, sent, answered, status, transfer_id = post or (0, 0, 0, 0, "")
        if not transfer_id:
            wrong.append({"call": callers[i], "http_status": status, "expected": PERSONAS[kind][1]})
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
        legs.extend((transfer_id, kind, e["leg"]) for e in view.get("timeline", [])
                    if e["event"] == "leg-dialed" and e.get("leg"))
        if view.get("finished_at"):
            end = iso_ts(view["finished_at"])
            finished.append(end)
            durations.append(end - sent)
            slowest.append((end - sent, kind, transfer_id, [(e.get("at"), e["event"]) for e in view.get("timeline", [])]))
    n = len(ids) or 1
    first_sent = min(p[1] for p in posts if p)
    accepted = [p for p in posts if p and p[3] == 202]
    webhooks = sum(1 for line in access if '"POST /voice/' in line)
    return {
        "transfers": count, "started": len(ids), "post_window_s": window,
        "posts": {"last_sent_s": round(max(p[1] for p in posts if p) - first_sent, 2),
                  "last_accepted_s": round(max(p[2] for p in accepted) - first_sent, 2) if accepted else None,
                  "response_ms": distribution([p[2] - p[1] for p in accepted], 1000),
                  "send_lag_ms": distribution([p[1] - p[0] for p in posts if p], 1000),
                  "statuses": {str(s): sum(1 for p in posts if p and p[3] == s) for s in {p[3] for p in posts if p}}},
        "wall_seconds": round((max(finished) if finished else finished_wall) - began, 2),
        "decided_seconds": round(max(decided) - began, 2) if decided else None,
        **first_words(stack, legs, views),
        "transfer_duration_s": distribution(durations, 1, 2),
        "slowest": [{"seconds": round(d, 2), "kind": k, "transfer": t, "timeline": tl}
                    for d, k, t, tl in sorted(slowest, key=lambda x: x[0], reverse=True)[:3]],
        "outcomes": outcomes, "exactly_one_outcome": len(ids) - len(multiple) - len(unfinished),
        "more_than_one_terminal_event": multiple[:10], "unexpected": wrong[:5], "unexpected_count": len(wrong),
        "unfinished": unfinished[:10], "unfinished_count": len(unfinished),
        "redis_bytes_per_transfer_used_memory": round((memory_after - memory_before) / n),
        "redis_commands_per_transfer": round(redis_used["total"] / n, 1),
        "redis_commands_by_type_per_transfer": {k: round(v / n, 2) for k, v in sorted(
            redis_used["commands"].items(), key=lambda kv: -kv[1]) if v / n >= 0.05},
        "redis_cpu_ms_per_transfer": round(redis_used["cpu_s"] * 1000 / n, 3),
        "twilio_rest_requests_per_transfer": round(len(rest) / n, 2),
        "twilio_webhooks_per_transfer": round(webhooks / n, 2),
        "cpu_ms_per_transfer": {name: round((cpu_after[name] - cpu_before[name]) * 1000 / n, 2)
                                for name in cpu_before},
        "_ids": ids, "_used_memory_before": memory_before,
    }


def first_words(stack: Stack, legs: list[tuple[str, str, str]], views: dict) -> dict:
    """Answer -> first words heard on every recipient leg that answered, from the simulator's timelines."""
    local = Sessions()

    def timeline(leg):
        response = local.session.get(f"{stack.sim.url}/sim/calls/{leg[2]}/timeline",
                                     auth=(stack.sim.account_sid, stack.sim.auth_token), timeout=30)
        return leg, (response.json() if response.status_code == 200 else None)

    with ThreadPoolExecutor(max_workers=4) as pool:
        timelines = list(pool.map(timeline, legs))
    delays, before_request, round_trip, after_response = [], [], [], []
    verdicts: dict[str, int] = {}
    answered_by: dict[str, int] = {}
    silent, no_timeline, slowest = [], [], []
    for (transfer_id, kind, leg), events in timelines:
        if events is None:
            no_timeline.append(leg)
            continue
        amd = next((e for e in events if e["type"] == "amd"), None)
        answer = next((e for e in events if e["type"] == "status" and e.get("status") == "in-progress"), None)
        if answer is None:
            continue      # never answered (not expected here: every persona answers)
        verdicts[amd.get("answered_by") if amd else "no-detection"] = \
            verdicts.get(amd.get("answered_by") if amd else "no-detection", 0) + 1
        start = (amd or answer)["time"]
        words = next((e for e in events if e["type"] == "heard" and e.get("kind") in SPEECH and e.get("text")
                      and e["time"] >= start), None)
        if words is None:
            silent.append({"transfer": transfer_id, "kind": kind, "leg": leg})
            continue
        delays.append(words["time"] - start)
        hook = next((e for e in events if e["type"] == "webhook" and "/leg-answer" in e.get("url", "")
                     and e["time"] >= start - 0.001), None)
        if hook is not None:
            before_request.append(hook["time"] - start)
            round_trip.append(hook.get("elapsed") or 0.0)
            after_response.append(words["time"] - hook["time"] - (hook.get("elapsed") or 0.0))
        slowest.append((words["time"] - start, transfer_id, leg))
    for view in views.values():
        for e in view.get("timeline", []):
            if e["event"] == "leg-answered":
                answered_by[str(e.get("answered_by"))] = answered_by.get(str(e.get("answered_by")), 0) + 1
    p99 = distribution(delays, 1, 3).get("p99")
    return {
        "answer_to_first_words_s": distribution(delays, 1, 3),
        "answer_to_first_words_target_p99_s": TARGET_FIRST_WORDS_P99,
        "answer_to_first_words_met": p99 is not None and p99 <= TARGET_FIRST_WORDS_P99,
        "first_words_breakdown_s": {"verdict_to_leg_answer_request": distribution(before_request, 1, 3),
                                    "leg_answer_round_trip": distribution(round_trip, 1, 3),
                                    "response_to_first_words": distribution(after_response, 1, 3)},
        "legs_dialed": len(legs), "legs_answered": len(delays) + len(silent),
        "legs_answered_without_words": len(silent), "legs_without_words": silent[:10],
        "legs_without_timeline": no_timeline[:10], "sim_amd_verdicts": verdicts,
        "service_answered_by": answered_by,
        "slowest_first_words": [{"seconds": round(d, 3), "transfer": t, "leg": l}
                                for d, t, l in sorted(slowest, reverse=True)[:3]],
    }
