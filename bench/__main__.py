"""`python -m bench` (`make bench`): every benchmark of issue 6 in one run, on loopback.

Starts Redis, the Twilio simulator, Handoff under gunicorn (the Procfile's web settings), a bare
Flask app under the same settings and the RQ workers; runs the measurements; prints one table;
writes bench/results.json; tears everything down (also on Ctrl-C or SIGTERM). Logs of every
process go to var/bench/<timestamp>/. `--quick` shrinks every count for a smoke run.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import analytics, capacity, inspector_pages, loadgen, scale, start_latency, timers, webhooks
from bench.stack import ROOT, WEB_THREADS, WEB_WORKERS, WORKER_PROCESSES, Interference, Stack

SLOW_TWILIO = 0.3           # seconds of latency injected into the simulator's REST API (5.)
START_COUNT, START_RATE = 1200, 20.0      # 60 s at 20 transfers/s, with and without slow Twilio (2., 5.)
SCALE_COUNT, SCALE_WINDOW = 2000, 2.0     # warm transfers POSTed within 2 s (4.)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _settle(stack: Stack, seconds: float = 20) -> None:
    """Hang up every simulated call and wait (bounded) until the queue is empty again."""
    stack.sim.reset()
    from rq import Queue

    from handoff.keys import Keys

    queue = Queue(Keys(stack.env["REDIS_KEY_PREFIX"]).queue_name(), connection=stack.redis)
    deadline = time.monotonic() + seconds
    time.sleep(1.0)
    while time.monotonic() < deadline and queue.count:
        time.sleep(0.2)


def machine() -> dict:
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=5).stdout.strip()
        # A shared checkout: say which service files differed from that commit when we measured.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench",
                                ":!BENCHMARKS.md"], cwd=ROOT, capture_output=True, text=True,
                               timeout=5).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
    except (OSError, subprocess.TimeoutExpired):
        commit, dirty = "", []
    return {"uncommitted_service_changes": dirty, "cpus": os.cpu_count(), "memory_gib": round(mem / 2**20, 1), "cpu_model": cpu,
            "python": platform.python_version(), "kernel": platform.release(), "commit": commit}


PHASES = ("webhooks", "inspector", "start", "slow", "timers", "capacity", "scale", "analytics")


def run(quick: bool, run_dir: Path, only: set[str] | None = None) -> dict:
    results: dict = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                     "settings": {"gunicorn": f"--workers {WEB_WORKERS} --threads {WEB_THREADS}",
                                  "worker_processes": WORKER_PROCESSES, "load_generator": None,
                                  "slow_twilio_latency_s": SLOW_TWILIO, "quick": quick,
                                  "phases": sorted(only) if only else list(PHASES)}}
    n = (lambda full, small: small if quick else full)
    wanted = (lambda phase: only is None or phase in only)
    if quick:
        webhooks.DURATION, webhooks.WARMUP, webhooks.ROUNDS = 2.0, 1.0, 1
    began = time.monotonic()
    with Stack(run_dir) as stack:
        results["settings"]["load_generator"] = "wrk" if loadgen.find_wrk() else "python (wrk not available)"
        results["settings"]["worker_threads"] = stack.env.get("WORKER_THREADS")
        slow: dict = {"rest_latency_s": SLOW_TWILIO}
        if wanted("webhooks") or wanted("inspector"):
            with _phase("1. webhooks", stack, results):
                hooks = webhooks.measure(stack, run_dir)
                requests = hooks.pop("_requests")
                results["webhooks"] = hooks

            if wanted("inspector"):
                with _phase("6. webhooks with twenty open Inspector pages", stack, results):
                    if quick:
                        inspector_pages.ROUNDS = 1
                    results["inspector_pages"] = inspector_pages.measure(stack, run_dir, requests["callbacks"])
                    _settle(stack)

            with _phase("5. slow Twilio: webhooks", stack, results):
                stack.sim.settings(rest_latency=SLOW_TWILIO)
                # CallSids seen before are fine here: /voice/incoming overwrites the call record alike.
                slow["app_incoming"] = webhooks.load(stack, stack.app_url,
                                                     requests["incoming"][-webhooks.MAX_REQUESTS // 3:], run_dir,
                                                     warmup=0)
                slow["app_dial_status"] = webhooks.load(stack, stack.app_url, requests["callbacks"], run_dir, warmup=0)
                for name in ("incoming", "dial_status"):
                    normal = webhooks._median([r["app"]["p99_ms"] for r in hooks[f"{name}_rounds"]])
                    slow[f"{name}_p99_normal_ms"] = normal
                    slow[f"{name}_p99_vs_normal"] = round(slow[f"app_{name}"]["p99_ms"] / normal, 2)
                stack.sim.settings(rest_latency=0)
                del requests
                _settle(stack)

        if wanted("start") or wanted("slow"):
            with _phase("2. transfer start latency", stack, results):
                results["start_latency"] = start_latency.run(stack, n(START_COUNT, 100), START_RATE)
                _settle(stack)

        if wanted("slow"):
            with _phase("5. slow Twilio: transfer start latency", stack, results):
                stack.sim.settings(rest_latency=SLOW_TWILIO)
                slow["start_slow"] = start_latency.run(stack, n(START_COUNT, 100), START_RATE)
                base, slowed = results["start_latency"]["start_latency_ms"], slow["start_slow"]["start_latency_ms"]
                slow["start_growth_ms"] = {q: round(slowed[q] - base[q], 1) for q in ("p50", "p99")}
                stack.sim.settings(rest_latency=0)
                _settle(stack)
        if len(slow) > 1:
            results["slow_twilio"] = slow

        if wanted("timers"):
            with _phase("3. deadline precision", stack, results):
                results["timers"] = timers.measure(stack, n(200, 30))
                _settle(stack)

        if wanted("capacity"):
            with _phase("8. capacity: REST calls per worker process", stack, results):
                cap = {"worker_memory": capacity.worker_memory(stack)}
                cap["rest_fast"] = capacity.rest_throughput(stack, n(300, 60), 0.0)
                _settle(stack)
                cap["rest_slow"] = capacity.rest_throughput(stack, n(300, 60), SLOW_TWILIO)
                results["capacity"] = cap
                _settle(stack)

        if wanted("scale"):
            with _phase("4. scale", stack, results):
                results["scale"] = scale.measure(stack, n(SCALE_COUNT, 200), SCALE_WINDOW)
            with _phase("4. memory per finished transfer", stack, results):
                results["memory"] = memory_after_scale(stack, results["scale"].pop("_ids"),
                                                       results["scale"].pop("_used_memory_before"))

        if all(k in results for k in ("webhooks", "capacity", "scale", "memory")):
            results["capacity"]["model"] = capacity.model(results)

        # Last: it writes 100,000 transfers' aggregates into this stack's Redis.
        if wanted("analytics"):
            with _phase("7. analytics after 100,000 transfers", stack, results):
                results["analytics"] = analytics.measure(stack, transfers=n(analytics.TRANSFERS, 10_000),
                                                         requests_=n(analytics.REQUESTS, 30))
        results["processes_alive_at_end"] = stack.alive()
    results["total_seconds"] = round(time.monotonic() - began, 1)
    return results


def memory_after_scale(stack: Stack, transfer_ids: list[str], used_before: int) -> dict:
    """Redis bytes per finished transfer once RQ's job records have expired (result_ttl)."""
    from bench import memory  # noqa
    from handoff.keys import Keys

    RESULT_TTL = 60    # TODO handoff.jobs

    keys = Keys(stack.env["REDIS_KEY_PREFIX"])
    time.sleep(RESULT_TTL + 5)            # every job record of the scale run has expired by now
    jobs_left = sum(1 for _ in stack.redis.scan_iter(match="rq:job:*", count=1000))
    measured = memory.measure(stack.redis, keys, transfer_ids)
    used = stack.redis.info("memory")["used_memory"] - used_before
    return {**measured, "rq_job_records_left": jobs_left,
            "used_memory_per_transfer": round(used / max(1, len(transfer_ids))),
            "retention_days": round(int(stack.env.get("STATE_TTL_SECONDS", 7 * 24 * 3600)) / 86400, 2)}


@contextlib.contextmanager
def _phase(name: str, stack: Stack, results: dict):
    """Log the phase and record how busy the machine was, and with what, while it ran."""
    print(f"[bench] {time.strftime('%H:%M:%S')} {name}", file=sys.stderr, flush=True)
    with Interference(stack) as cpu:
        yield
    results.setdefault("cpu_by_phase", {})[name] = {**cpu.result, "loadavg_1m_after": os.getloadavg()[0]}


def table(r: dict) -> str:
    """One table: every figure, its target and what it is (sections of phases not run are left out)."""
    rows = []

    def add(measure, figure, value, target=""):
        rows.append((measure, figure, value, target))

    h = r.get("webhooks")
    for name, label in (("incoming", "/voice/incoming"), ("dial_status", "dial-status callback")) if h else ():
        app, bare, ratio = h[f"app_{name}"], h[f"bare_{name}"], h[f"{name}_ratio"]
        add(f"1. {label}", "Handoff req/s | bare req/s", f"{app['rps']:.0f} | {bare['rps']:.0f}")
        add("", "Handoff p50/p99 ms | bare", f"{app['p50_ms']:.1f}/{app['p99_ms']:.1f} | "
                                             f"{bare['p50_ms']:.1f}/{bare['p99_ms']:.1f}")
        add("", f"throughput ratio: median [range] of {len(ratio['throughput_all_rounds'])} rounds",
            f"{ratio['throughput']:.2f} [{min(ratio['throughput_all_rounds']):.2f}-"
            f"{max(ratio['throughput_all_rounds']):.2f}]", ">= 0.6")
        add("", "p99 ratio: median [range]", f"{ratio['p99']:.2f} [{min(ratio['p99_all_rounds']):.2f}-"
            f"{max(ratio['p99_all_rounds']):.2f}]", "<= 2")
        cpu = ratio["server_cpu_ms_per_request"]
        add("", "server CPU ms per request: Handoff | bare (ratio)",
            f"{cpu['app']} | {cpu['bare']} ({cpu['app'] / cpu['bare']:.2f}x)", "<= 1.6x")
        rt = h["redis_round_trips"][name]
        add("", "Redis round trips | commands per request",
            f"{rt['round_trips_per_request']:.1f} | {app.get('redis_commands_per_request')}", "1 |")
    s = r.get("start_latency")
    if s:
        add("2. transfer start (POST -> 1st REST)", f"p50 / p99 ms (n={s['start_latency_ms']['n']}, "
            f"{s['rate_per_s']:.0f}/s for {s['load_seconds']:.0f} s)",
            f"{s['start_latency_ms']['p50']} / {s['start_latency_ms']['p99']}", "<= 20 / <= 100")
        add("", "POST /transfers response p50 / p99 ms", f"{s['api_response_ms']['p50']} / {s['api_response_ms']['p99']}")
    sl = r.get("slow_twilio")
    if sl and "incoming_p99_vs_normal" in sl:
        add(f"5. slow Twilio (+{sl['rest_latency_s'] * 1000:.0f} ms REST)",
            "webhook p99 vs normal (incoming | dial-status)",
            f"{sl['incoming_p99_vs_normal']} | {sl['dial_status_p99_vs_normal']}", "~1")
    if sl and "start_slow" in sl and s:
        slowed = sl["start_slow"]
        add("5. slow Twilio" if "incoming_p99_vs_normal" not in sl else "",
            f"start p50/p99 ms at {slowed['rate_per_s']:.0f}/s for {slowed['load_seconds']:.0f} s: normal -> slow",
            f"{s['start_latency_ms']['p50']}/{s['start_latency_ms']['p99']} -> "
            f"{slowed['start_latency_ms']['p50']}/{slowed['start_latency_ms']['p99']}")
        add("", "start latency growth p50 / p99 ms", f"{sl['start_growth_ms']['p50']} / {sl['start_growth_ms']['p99']}",
            f"p99 <= {sl['rest_latency_s'] * 1000:.0f}")
        q = slowed["queue"]
        add("", "queue: deepest | at end of load | drained s after",
            f"{q['max_depth']} | {q['depth_at_end_of_load']} | {q['drained_s_after_load']}", "drains")
    t = r.get("timers")
    if t:
        add("3. deadline precision (sweeper)", f"late after dl_at p50 / p99 / max ms (n={t['late_ms']['n']})",
            f"{t['late_ms'].get('p50')} / {t['late_ms'].get('p99')} / {t['late_ms'].get('max')}", "p99 <= 1000")
        add("", "moved on early | never moved on", f"{t['moved_early']} | {t['not_moved_on']}", "0 | 0")
        add("", "deadline -> caller returned p50 / p99 ms", f"{t['deadline_to_caller_returned_ms'].get('p50')} / "
            f"{t['deadline_to_caller_returned_ms'].get('p99')}")
    sc = r.get("scale")
    if sc:
        posts = sc["posts"]
        add(f"4. scale ({sc['transfers']} warm, POSTed within {sc['post_window_s']:g} s)",
            "last POST sent | last accepted s after the first", f"{posts['last_sent_s']} | {posts['last_accepted_s']}",
            f"sent <= {sc['post_window_s']:g}")
        add("", "exactly one outcome | unexpected | unfinished",
            f"{sc['exactly_one_outcome']} | {sc['unexpected_count']} | {sc['unfinished_count']}",
            f"{sc['transfers']} | 0 | 0")
        add("", "wall time s: all decided | all completed", f"{sc['decided_seconds']} | {sc['wall_seconds']}")
        fw = sc["answer_to_first_words_s"]
        add("", f"answer -> first words p50/p90/p99/max s (n={fw.get('n')})",
            f"{fw.get('p50')} / {fw.get('p90')} / {fw.get('p99')} / {fw.get('max')}",
            f"p99 <= {sc['answer_to_first_words_target_p99_s']:g}")
        add("", "answered legs without words | AMD verdicts",
            f"{sc['legs_answered_without_words']} | "
            + ", ".join(f"{k} {v}" for k, v in sorted(sc["sim_amd_verdicts"].items())), "0 | human")
        add("", "worker | web CPU ms per transfer",
            f"{sc['cpu_ms_per_transfer']['workers']} | {sc['cpu_ms_per_transfer']['app']}")
        add("", "Twilio webhooks | REST requests per transfer",
            f"{sc['twilio_webhooks_per_transfer']} | {sc['twilio_rest_requests_per_transfer']}")
    m = r.get("memory")
    if m:
        add("4. Redis memory (jobs expired)", "bytes per finished transfer (its keys, its call's share)",
            f"{m.get('bytes_per_finished_transfer')}", "<= 8192")
        add("", "archived | max bytes of one transfer", f"{m['archived']} of {m['transfers']} | "
            f"{m.get('max_bytes_per_transfer')}")
        shared = m["shared"]
        add("", "shared: event feed (capped) | analytics per hour",
            f"{shared['event_feed_bytes']} B for {shared['event_feed_entries']} events | "
            f"{shared['analytics_bytes_per_hour']} B")
    cap = r.get("capacity")
    if cap and cap.get("model"):
        rows.extend(row + ("",) for row in capacity.rows(cap["model"], cap))
    ip = r.get("inspector_pages")
    if ip:
        add(f"6. {ip['pages']} open Inspector pages", "dial-status p50/p99 ms: without | with",
            f"{ip['without_pages']['p50_ms']:.1f}/{ip['without_pages']['p99_ms']:.1f} | "
            f"{ip['with_pages']['p50_ms']:.1f}/{ip['with_pages']['p99_ms']:.1f}")
        add("", "p99 with / without: median [range]", f"{ip['p99_ratio']:.2f} [{min(ip['p99_ratio_all_rounds']):.2f}-"
            f"{max(ip['p99_ratio_all_rounds']):.2f}]", "~1")
        add("", "events each page received (fewest)", f"{ip['min_events_per_page']}", "> 0")
    if r.get("analytics"):
        rows.extend(analytics.rows(r["analytics"]))
    widths = [max(len(str(row[i])) for row in rows + [("Measurement", "Figure", "Value", "Target")])
              for i in range(4)]
    line = lambda row: "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
    out = [line(("Measurement", "Figure", "Value", "Target")), line(["-" * w for w in widths])]
    return "\n".join(out + [line(row) for row in rows])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts and short runs (a smoke test)")
    parser.add_argument("--only", action="append", choices=PHASES,
                        help="run only this phase (repeatable; a partial run writes bench/results-partial.json)")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    only = set(args.only) if args.only else None
    default = "results.json" if only is None and not args.quick else "results-partial.json"
    args.output = args.output or str(ROOT / "bench" / default)
    signal.signal(signal.SIGTERM, _interrupt)
    run_dir = ROOT / "var" / "bench" / time.strftime("%Y%m%d-%H%M%S")
    print(f"[bench] logs in {run_dir}", file=sys.stderr, flush=True)
    results = run(args.quick, run_dir, only)
    text = table(results)
    results["table"] = text.splitlines()
    output = Path(args.output)
    tmp = output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
    tmp.replace(output)
    print(text)
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
