"""8. Capacity: what one worker process does per second against a slow Twilio, and the model that
turns this run's measured costs into transfers per second per process and dyno counts.

REST throughput: `count` cold transfers to a busy recipient are POSTed at once; each start job
makes one REST request (`calls(sid).update` with the Dial). The simulator stamps every REST request
on arrival (before its injected latency), so the arrival rate over the busy middle of the run (10th
to 90th percentile of arrivals) is how many REST calls per second the worker processes complete.
"""
from __future__ import annotations

import math
import time

from bench.common import BUSY_PERSONA, Sampler, burst_post, first_rest_requests, place_calls, rss_mib
from bench.stack import WORKER_PROCESSES, Stack

UTILISATION = 0.6                    # plan each process (and Redis) for 60 % of a core, not 100 %
RATES_PER_MINUTE = (10, 100, 1000)
REDIS_SIZES_MB = (25, 100, 1024)      # a small hosted Redis, a mid-size one, 1 GB


def rest_throughput(stack: Stack, count: int, latency: float) -> dict:
    """REST calls per second the workers complete with `latency` s added to every REST request."""
    stack.sim.add_persona({"address": BUSY_PERSONA, "kind": "busy"})
    stack.sim.settings(rest_latency=latency)
    try:
        callers = place_calls(stack, count, caller_base=14155557000, timeout=120)
        before = len(stack.sim.requests())
        cpu_before = stack.cpu_seconds("workers")
        peak = _PeakRss(stack)
        with peak:
            posts = burst_post(stack, callers, lambda i: {"to": "busy_desk", "mode": "cold"}, window=0.5)
            wanted = set(callers)
            deadline = time.monotonic() + 60 + count * latency
            arrivals: dict[str, float] = {}
            while time.monotonic() < deadline and len(arrivals) < len(wanted):
                arrivals = {sid: at for sid, at in first_rest_requests(stack, before).items() if sid in wanted}
                time.sleep(0.5)
            time.sleep(latency + 0.5)     # the last calls' latency, so their CPU is counted
        cpu = stack.cpu_seconds("workers") - cpu_before
    finally:
        stack.sim.settings(rest_latency=0)
    times = sorted(arrivals.values())
    lo, hi = (times[len(times) // 10], times[(len(times) * 9) // 10]) if times else (0, 0)
    middle = sum(1 for t in times if lo <= t <= hi)
    rate = (middle - 1) / (hi - lo) if hi > lo else None
    return {"latency_s": latency, "transfers": count, "accepted": sum(1 for p in posts if p and p[3] == 202),
            "rest_requests_seen": len(times), "rest_per_s": round(rate, 1) if rate else None,
            "rest_per_s_per_process": round(rate / WORKER_PROCESSES, 1) if rate else None,
            "worker_cpu_ms_per_start": round(cpu * 1000 / max(1, len(times)), 2),
            "worker_rss_mib_peak": peak.peak}


class _PeakRss(Sampler):
    """The largest resident memory each worker process reached while in use (sampled every 0.2 s)."""

    interval = 0.2

    def __init__(self, stack: Stack):
        self.stack = stack
        self.peak: dict[str, float] = {}

    def sample(self) -> None:
        pids = self.stack.pids("workers")
        for pid, rss in zip(pids, rss_mib(pids)):
            self.peak[str(pid)] = max(self.peak.get(str(pid), 0.0), rss)


def worker_memory(stack: Stack) -> dict:
    """Resident memory of the worker pool: its supervisor and each worker process (idle)."""
    pids = stack.pids("workers")
    sizes = rss_mib(pids)
    return {"supervisor_mib": sizes[0] if sizes else None, "worker_processes_mib": sizes[1:]}


def model(results: dict) -> dict:
    """Transfers per second per web process, worker process and Redis, from this run's figures;
    and the processes (dynos) 10, 100 and 1,000 transfers per minute need."""
    hooks, scale, cap = results["webhooks"], results["scale"], results["capacity"]
    webhook_cpu_ms = (hooks["incoming_ratio"]["server_cpu_ms_per_request"]["app"]
                      + hooks["dial_status_ratio"]["server_cpu_ms_per_request"]["app"]) / 2
    web_ms = scale["cpu_ms_per_transfer"]["app"]
    worker_ms = scale["cpu_ms_per_transfer"]["workers"]
    rest_per_transfer = scale["twilio_rest_requests_per_transfer"]
    slow = cap["rest_slow"]["rest_per_s_per_process"] or 0
    per_web = UTILISATION * 1000 / web_ms if web_ms else None
    per_worker_cpu = UTILISATION * 1000 / worker_ms if worker_ms else None
    per_worker_rest = slow / rest_per_transfer if rest_per_transfer else None
    per_worker = min(x for x in (per_worker_cpu, per_worker_rest) if x) if (per_worker_cpu or per_worker_rest) else None
    redis_ms = scale["redis_cpu_ms_per_transfer"]
    per_redis = UTILISATION * 1000 / redis_ms if redis_ms else None
    memory = results.get("memory", {})
    bytes_kept = memory.get("bytes_per_finished_transfer")
    retention_days = memory.get("retention_days", 7)
    plan = []
    for per_minute in RATES_PER_MINUTE:
        rate = per_minute / 60
        kept = per_minute * 60 * 24 * retention_days
        plan.append({
            "transfers_per_minute": per_minute,
            "web_processes": max(1, math.ceil(rate / per_web)) if per_web else None,
            "worker_processes": max(1, math.ceil(rate / per_worker)) if per_worker else None,
            "redis_cpu_share": round(rate * redis_ms / 1000, 3) if redis_ms else None,
            "transfers_kept": kept,
            "redis_mb_for_kept": round(kept * bytes_kept / 1e6, 1) if bytes_kept else None,
        })
    holds = {f"{size} MB": int(size * 1e6 * 0.8 / bytes_kept) for size in REDIS_SIZES_MB} if bytes_kept else {}
    return {
        "utilisation": UTILISATION,
        "webhooks_per_s_per_web_process": round(1000 / webhook_cpu_ms, 0) if webhook_cpu_ms else None,
        "webhook_cpu_ms": round(webhook_cpu_ms, 3),
        "webhooks_per_transfer": scale["twilio_webhooks_per_transfer"],
        "web_cpu_ms_per_transfer": web_ms, "worker_cpu_ms_per_transfer": worker_ms,
        "rest_per_transfer": rest_per_transfer,
        "rest_per_s_per_worker_process_at_300ms": slow,
        "rest_per_s_per_worker_process_at_0ms": cap["rest_fast"]["rest_per_s_per_process"],
        "redis_commands_per_transfer": scale["redis_commands_per_transfer"],
        "redis_cpu_ms_per_transfer": redis_ms,
        "transfers_per_s": {"web_process": _r(per_web), "worker_process_cpu": _r(per_worker_cpu),
                            "worker_process_rest_300ms": _r(per_worker_rest), "worker_process": _r(per_worker),
                            "redis": _r(per_redis)},
        "plan": plan,
        "transfers_held_at_80pct": holds,
    }


def _r(value):
    return round(value, 1) if value else None


def rows(cap_model: dict, cap: dict) -> list[tuple]:
    """The table's rows for the capacity model."""
    tps = cap_model["transfers_per_s"]
    out = [("8. capacity (measured)", "REST calls/s per worker process at +0 / +300 ms",
            f"{cap_model['rest_per_s_per_worker_process_at_0ms']} / {cap_model['rest_per_s_per_worker_process_at_300ms']}"),
           ("", "webhooks/s per web process (1 core) | webhooks per transfer",
            f"{cap_model['webhooks_per_s_per_web_process']:.0f} | {cap_model['webhooks_per_transfer']}"),
           ("", "Redis commands | CPU ms per transfer",
            f"{cap_model['redis_commands_per_transfer']} | {cap_model['redis_cpu_ms_per_transfer']}"),
           ("", "worker process RSS MiB: idle | peak under load",
            f"{', '.join(map(str, cap['worker_memory']['worker_processes_mib']))} | "
            f"{', '.join(map(str, sorted(cap['rest_slow']['worker_rss_mib_peak'].values())))}"),
           ("", f"transfers/s at {cap_model['utilisation']:.0%} CPU: web | worker | Redis",
            f"{tps['web_process']} | {tps['worker_process']} | {tps['redis']}")]
    for p in cap_model["plan"]:
        out.append(("", f"{p['transfers_per_minute']}/min: web + worker processes | Redis MB kept",
                    f"{p['web_processes']} + {p['worker_processes']} | {p['redis_mb_for_kept']}"))
    return out
