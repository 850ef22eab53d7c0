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

from bench import analytics, inspector_pages, loadgen, scale, start_latency, timers, webhooks
from bench.stack import ROOT, WEB_THREADS, WEB_WORKERS, WORKER_PROCESSES, Interference, Stack

SLOW_TWILIO = 0.3           # seconds of latency injected into the simulator's REST API (5.)
START_COUNT, START_RATE = 500, 20.0
SLOW_COUNT, SLOW_RATE = 120, 4.0


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


def run(quick: bool, run_dir: Path) -> dict:
    results: dict = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                     "settings": {"gunicorn": f"--workers {WEB_WORKERS} --threads {WEB_THREADS}",
                                  "worker_processes": WORKER_PROCESSES, "load_generator": None,
                                  "slow_twilio_latency_s": SLOW_TWILIO, "quick": quick}}
    n = (lambda full, small: small if quick else full)
    if quick:
        webhooks.DURATION, webhooks.WARMUP, webhooks.ROUNDS = 2.0, 1.0, 1
    began = time.monotonic()
    with Stack(run_dir) as stack:
        results["settings"]["load_generator"] = "wrk" if loadgen.find_wrk() else "python (wrk not available)"
        with _phase("1. webhooks", stack, results):
            hooks = webhooks.measure(stack, run_dir)
            requests = hooks.pop("_requests")
            results["webhooks"] = hooks

        with _phase("6. webhooks with twenty open Inspector pages", stack, results):
            if quick:
                inspector_pages.ROUNDS = 1
            results["inspector_pages"] = inspector_pages.measure(stack, run_dir, requests["callbacks"])
            _settle(stack)

        with _phase("5. slow Twilio: webhooks", stack, results):
            stack.sim.settings(rest_latency=SLOW_TWILIO)
            slow = {"rest_latency_s": SLOW_TWILIO}
            # CallSids seen before are fine here: /voice/incoming overwrites the call record alike.
            slow["app_incoming"] = webhooks.load(stack, stack.app_url, requests["incoming"][-webhooks.MAX_REQUESTS // 3:],
                                                 run_dir, warmup=0)
            slow["app_dial_status"] = webhooks.load(stack, stack.app_url, requests["callbacks"], run_dir, warmup=0)
            for name in ("incoming", "dial_status"):
                normal = webhooks._median([r["app"]["p99_ms"] for r in hooks[f"{name}_rounds"]])
                slow[f"{name}_p99_normal_ms"] = normal
                slow[f"{name}_p99_vs_normal"] = round(slow[f"app_{name}"]["p99_ms"] / normal, 2)
            stack.sim.settings(rest_latency=0)
            del requests
            _settle(stack)

        with _phase("2. transfer start latency", stack, results):
            results["start_latency"] = start_latency.run(stack, n(START_COUNT, 50), START_RATE)
            _settle(stack)

        with _phase("5. slow Twilio: transfer start latency", stack, results):
            slow["start_baseline"] = start_latency.run(stack, n(SLOW_COUNT, 30), SLOW_RATE)
            _settle(stack)
            stack.sim.settings(rest_latency=SLOW_TWILIO)
            slow["start_slow"] = start_latency.run(stack, n(SLOW_COUNT, 30), SLOW_RATE)
            base, slowed = slow["start_baseline"]["start_latency_ms"], slow["start_slow"]["start_latency_ms"]
            slow["start_growth_ms"] = {q: round(slowed[q] - base[q], 1) for q in ("p50", "p99")}
            stack.sim.settings(rest_latency=0)
            results["slow_twilio"] = slow
            _settle(stack)

        with _phase("3. deadline precision", stack, results):
            results["timers"] = timers.measure(stack, n(200, 30))
            _settle(stack)

        with _phase("4. scale", stack, results):
            results["scale"] = scale.measure(stack, n(500, 60))

        # Last: it writes 100,000 transfers' aggregates into this stack's Redis.
        with _phase("7. analytics after 100,000 transfers", stack, results):
            results["analytics"] = analytics.measure(stack, transfers=n(analytics.TRANSFERS, 10_000),
                                                     requests_=n(analytics.REQUESTS, 30))
        results["processes_alive_at_end"] = stack.alive()
    results["total_seconds"] = round(time.monotonic() - began, 1)
    return results


@contextlib.contextmanager
def _phase(name: str, stack: Stack, results: dict):
    """Log the phase and record how busy the machine was, and with what, while it ran."""
    print(f"[bench] {time.strftime('%H:%M:%S')} {name}", file=sys.stderr, flush=True)
    with Interference(stack) as cpu:
        yield
    results.setdefault("cpu_by_phase", {})[name] = {**cpu.result, "loadavg_1m_after": os.getloadavg()[0]}


def table(r: dict) -> str:
    """One table: every figure, its target and what it is."""
    h, s, t, sc, sl = r["webhooks"], r["start_latency"], r["timers"], r["scale"], r["slow_twilio"]
    rows = []

    def add(measure, figure, value, target=""):
        rows.append((measure, figure, value, target))

    for name, label in (("incoming", "/voice/incoming"), ("dial_status", "dial-status callback")):
        app, bare, ratio = h[f"app_{name}"], h[f"bare_{name}"], h[f"{name}_ratio"]
        add(f"1. {label}", "Handoff req/s | bare req/s", f"{app['rps']:.0f} | {bare['rps']:.0f}")
        add("", "Handoff p50/p99 ms | bare", f"{app['p50_ms']:.1f}/{app['p99_ms']:.1f} | "
                                             f"{bare['p50_ms']:.1f}/{bare['p99_ms']:.1f}")
        add("", f"throughput ratio: median [range] of {len(ratio['throughput_all_rounds'])} rounds",
            f"{ratio['throughput']:.2f} [{min(ratio['throughput_all_rounds']):.2f}-"
            f"{max(ratio['throughput_all_rounds']):.2f}]", ">= 0.6")
        add("", "p99 ratio: median [range]", f"{ratio['p99']:.2f} [{min(ratio['p99_all_rounds']):.2f}-"
            f"{max(ratio['p99_all_rounds']):.2f}]", "<= 3")
        add("", "server CPU ms per request: Handoff | bare", f"{ratio['server_cpu_ms_per_request']['app']} | "
            f"{ratio['server_cpu_ms_per_request']['bare']}")
        rt = h["redis_round_trips"][name]
        add("", "Redis round trips | commands per request",
            f"{rt['round_trips_per_request']:.1f} | {app.get('redis_commands_per_request')}")
    add("2. transfer start (POST -> 1st REST)", f"p50 / p99 ms (n={s['start_latency_ms']['n']}, "
        f"{s['rate_per_s']:.0f}/s)", f"{s['start_latency_ms']['p50']} / {s['start_latency_ms']['p99']}",
        "<= 20 / <= 100")
    add("", "POST /transfers response p50 / p99 ms", f"{s['api_response_ms']['p50']} / {s['api_response_ms']['p99']}")
    add("3. deadline precision (sweeper)", f"late after dl_at p50 / p99 / max ms (n={t['late_ms']['n']})",
        f"{t['late_ms'].get('p50')} / {t['late_ms'].get('p99')} / {t['late_ms'].get('max')}", "p99 <= 1000")
    add("", "moved on early | never moved on", f"{t['moved_early']} | {t['not_moved_on']}", "0 | 0")
    add("", "deadline -> caller returned p50 / p99 ms", f"{t['deadline_to_caller_returned_ms'].get('p50')} / "
        f"{t['deadline_to_caller_returned_ms'].get('p99')}")
    add(f"4. scale ({sc['transfers']} warm at once)", "exactly one outcome | unexpected | unfinished",
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
    add("", "Redis bytes per transfer", f"{sc['redis_bytes_per_transfer']}")
    add("", "worker | web CPU ms per transfer",
        f"{sc['cpu_ms_per_transfer']['workers']} | {sc['cpu_ms_per_transfer']['app']}")
    add(f"5. slow Twilio (+{sl['rest_latency_s'] * 1000:.0f} ms REST)", "webhook p99 vs normal (incoming | dial-status)",
        f"{sl['incoming_p99_vs_normal']} | {sl['dial_status_p99_vs_normal']}", "~1")
    add("", f"start p50/p99 ms at {SLOW_RATE:.0f}/s: normal -> slow",
        f"{sl['start_baseline']['start_latency_ms']['p50']}/{sl['start_baseline']['start_latency_ms']['p99']} -> "
        f"{sl['start_slow']['start_latency_ms']['p50']}/{sl['start_slow']['start_latency_ms']['p99']}")
    add("", "start latency growth p50 / p99 ms", f"{sl['start_growth_ms']['p50']} / {sl['start_growth_ms']['p99']}",
        f"<= {sl['rest_latency_s'] * 1000:.0f}")
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
    parser.add_argument("--output", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    run_dir = ROOT / "var" / "bench" / time.strftime("%Y%m%d-%H%M%S")
    print(f"[bench] logs in {run_dir}", file=sys.stderr, flush=True)
    results = run(args.quick, run_dir)
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
