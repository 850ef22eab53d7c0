"""1. Webhook throughput and latency: Handoff vs a bare Flask app under the same gunicorn settings.

Two webhooks are loaded: `/voice/incoming` (a fresh CallSid on every request, as Twilio sends
them) and a cold transfer's `dial-status` callback (CallStatus=ringing) for real transfers that
are ringing in the simulator. Every request is signed like Twilio signs it. The bare app gets
byte-identical requests. Also counts Redis round trips and commands per webhook.
"""
from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import redis

from bench import loadgen
from bench.common import place_calls, post_transfer, wait_transfers
from bench.stack import ACCOUNT_SID, AGENT_NUMBER, WEB_THREADS, WEB_WORKERS, Interference, Stack
from handoff.callback_urls import CallbackUrls

DURATION = 3.0           # seconds per measured run
ROUNDS = 5               # alternating bare/Handoff runs per webhook (a shared VM is noisy: medians)
WARMUP = 2.0             # seconds of load before each measured run (not reported)
MAX_REQUESTS = 60_000    # count bound per run, and distinct pre-signed requests (a third per Handoff round)
RINGING_TRANSFERS = 32   # real transfers whose dial-status callback is replayed
RINGING_PERSONA = "+14155550202"


def _sid() -> str:
    return "CA" + uuid.uuid4().hex


def incoming_requests(stack: Stack, count: int) -> list[loadgen.Request]:
    """Signed /voice/incoming POSTs with the fields Twilio sends, each with a new CallSid."""
    out = []
    for i in range(count):
        caller = f"+1415555{3000 + i % 1000:04d}"
        params = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": _sid(), "CallStatus": "ringing",
                  "CallToken": "", "Called": AGENT_NUMBER, "CalledCity": "", "CalledCountry": "US",
                  "CalledState": "", "CalledZip": "", "Caller": caller, "CallerCity": "SAN FRANCISCO",
                  "CallerCountry": "US", "CallerState": "CA", "CallerZip": "94105", "Direction": "inbound",
                  "From": caller, "FromCity": "SAN FRANCISCO", "FromCountry": "US", "FromState": "CA",
                  "FromZip": "94105", "To": AGENT_NUMBER, "ToCity": "", "ToCountry": "US", "ToState": "",
                  "ToZip": ""}
        out.append(loadgen.Request("/voice/incoming", urlencode(params), stack.sign("/voice/incoming", params)))
    return out


def ringing_transfers(stack: Stack, count: int = RINGING_TRANSFERS) -> list[tuple[str, str, str]]:
    """Cold transfers to a recipient that rings (and never answers for two minutes):
    returns (transfer id, caller CallSid, leg CallSid) once each leg has reported 'ringing'."""
    stack.sim.add_persona({"address": RINGING_PERSONA, "kind": "no-answer"})
    callers = place_calls(stack, count, caller_base=14155554000)
    ids = []
    for sid in callers:
        _, transfer_id, status = post_transfer(stack, stack.api, sid, {"to": "ringing_desk", "mode": "cold",
                                                                       "timeout": 120})
        if status != 202:
            raise RuntimeError(f"could not start a ringing transfer on {sid}: HTTP {status}")
        ids.append(transfer_id)
    has_leg = lambda view: any(e["event"] == "leg-ringing" for e in view["timeline"])
    views, missing = wait_transfers(stack, ids, timeout=30, predicate=has_leg)
    if missing:
        raise RuntimeError(f"transfers never rang: {missing[:5]}")
    out = []
    for transfer_id, caller in zip(ids, callers):
        leg = next(e["leg"] for e in views[transfer_id]["timeline"] if e["event"] == "leg-ringing")
        out.append((transfer_id, caller, leg))
    return out


def callback_requests(stack: Stack, transfers, count: int) -> list[loadgen.Request]:
    """Signed dial-status 'ringing' callbacks for the ringing transfers, round robin (Twilio's
    at-least-once delivery: after the first, each is a duplicate the service must absorb)."""
    out = []
    for i in range(count):
        transfer_id, caller, leg = transfers[i % len(transfers)]
        # Exactly the URL the service gives Twilio (the caller's CallSid `c` rides in the query).
        path = CallbackUrls("").transfer(transfer_id, "dial-status", caller, attempt=0)
        params = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": leg, "CallStatus": "ringing",
                  "Called": "+14155550202", "Caller": AGENT_NUMBER, "Direction": "outbound-dial",
                  "From": AGENT_NUMBER, "To": "+14155550202", "ParentCallSid": caller,
                  "SequenceNumber": "1", "CallbackSource": "call-progress-events",
                  "Timestamp": "Sat, 21 Nov 2026 02:00:00 +0000"}
        out.append(loadgen.Request(path, urlencode(params), stack.sign(path, params)))
    return out


def _commands(r: redis.Redis) -> tuple[int, dict]:
    stats = r.info("commandstats")
    return r.info("stats")["total_commands_processed"], {k: v["calls"] for k, v in stats.items()}


def load(stack: Stack, base_url: str, requests, work_dir: Path, *, duration=None, warmup=None,
         count_redis=False) -> dict:
    """Warm up, then one measured run; optionally the Redis commands it caused (idle rate subtracted)."""
    duration = DURATION if duration is None else duration
    warmup = WARMUP if warmup is None else warmup
    if warmup:
        loadgen.run(base_url, requests[-2000:], duration=warmup, max_requests=2000, work_dir=work_dir)
    before = _commands(stack.redis) if count_redis else None
    began = time.monotonic()
    components = {"server": "app" if base_url == stack.app_url else "bare", "redis": "redis"}
    cpu_before = {k: stack.cpu_seconds(v) for k, v in components.items()}
    with Interference(stack) as cpu:
        result = loadgen.run(base_url, requests, duration=duration, max_requests=MAX_REQUESTS, work_dir=work_dir)
    result["cpu"] = cpu.result
    # Where the CPU went, per request: the gunicorn server (all its workers) and Redis.
    result["cpu_ms_per_request"] = {k: round((stack.cpu_seconds(v) - cpu_before[k]) * 1000 / max(1, result["requests"]), 3)
                                    for k, v in components.items()}
    elapsed = time.monotonic() - began
    if count_redis:
        total_after, after = _commands(stack.redis)
        idle_rate = _idle_command_rate(stack.redis)
        commands = total_after - before[0] - idle_rate * elapsed
        result["redis_commands_per_request"] = round(commands / max(1, result["requests"]), 2)
        result["redis_commands_by_type"] = {k: round((after[k] - before[1].get(k, 0)) / max(1, result["requests"]), 2)
                                            for k in after if after[k] - before[1].get(k, 0) >= result["requests"] / 4}
    if result.get("non2xx"):
        # A replayed request the server refuses measures an error path, not the webhook: say so loudly.
        print(f"[bench] WARNING: {result['non2xx']}/{result['requests']} non-2xx answers from "
              f"{components['server']} ({requests[0].path.split('?')[0]} ...)", file=sys.stderr, flush=True)
    return result


def _idle_command_rate(r: redis.Redis, seconds: float = 1.0) -> float:
    """Commands/s Redis processes with no webhook load (RQ workers, scheduler polling, our INFO calls)."""
    first = r.info("stats")["total_commands_processed"]
    time.sleep(seconds)
    return (r.info("stats")["total_commands_processed"] - first - 1) / seconds


def round_trips(stack: Stack, incoming, callbacks, samples: int = 20) -> dict:
    """Redis round trips per webhook, counted exactly: Handoff's app built in this process, requests
    through Flask's test client, every redis-py send (a pipeline is one send) counted."""
    from redis.connection import AbstractConnection

    from app import create_app

    app = create_app(stack.env)
    client = app.test_client()
    sends = [0]
    original = AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sends[0] += 1
        return original(self, command, check_health)

    def post(request: loadgen.Request) -> int:
        response = client.post(request.path, data=request.body, headers={
            "X-Twilio-Signature": request.signature, "Content-Type": "application/x-www-form-urlencoded"})
        return response.status_code

    out = {}
    AbstractConnection.send_packed_command = counting
    try:
        for name, requests in (("incoming", incoming), ("dial_status", callbacks)):
            post(requests[0])            # first use: connection set-up and SCRIPT LOAD are not per request
            sends[0] = 0
            statuses = [post(r) for r in requests[1:samples + 1]]
            out[name] = {"round_trips_per_request": sends[0] / samples, "statuses": sorted(set(statuses))}
    finally:
        AbstractConnection.send_packed_command = original
        watch = app.extensions.get("routing_watch")
        if watch is not None:
            watch.set()
    return out


def _round(stack: Stack, work_dir: Path, bare_requests, app_requests) -> dict:
    """One bare run then one Handoff run, back to back, and their ratios."""
    bare = load(stack, stack.bare_url, bare_requests, work_dir, warmup=0)
    app = load(stack, stack.app_url, app_requests, work_dir, warmup=0, count_redis=True)
    return {"bare": bare, "app": app, "throughput_ratio": round(app["rps"] / bare["rps"], 3),
            "p50_ratio": round(app["p50_ms"] / bare["p50_ms"], 2), "p99_ratio": round(app["p99_ms"] / bare["p99_ms"], 2)}


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def measure(stack: Stack, work_dir: Path) -> dict:
    """ROUNDS alternating bare/Handoff runs per webhook, so that whatever else the machine is doing
    hits both alike; figures are the median round (by throughput ratio), all rounds are kept."""
    transfers = ringing_transfers(stack)
    per_round = MAX_REQUESTS // ROUNDS
    incoming = incoming_requests(stack, MAX_REQUESTS)
    callbacks = callback_requests(stack, transfers, MAX_REQUESTS)
    results = {"tool": "wrk" if loadgen.find_wrk() else "python", "connections": loadgen.CONNECTIONS,
               "duration_s": DURATION, "rounds": ROUNDS,
               "gunicorn": f"--workers {WEB_WORKERS} --threads {WEB_THREADS} --access-logfile - (both servers)"}
    for name, requests in (("incoming", incoming), ("dial_status", callbacks)):
        loadgen.run(stack.bare_url, requests[:2000], duration=WARMUP, max_requests=2000, work_dir=work_dir)
        loadgen.run(stack.app_url, requests[-2000:], duration=WARMUP, max_requests=2000, work_dir=work_dir)
        # Handoff gets fresh CallSids every round; the bare app may replay (it stores nothing).
        rounds = [_round(stack, work_dir, requests, requests[i * per_round:(i + 1) * per_round])
                  for i in range(ROUNDS)]
        middle = sorted(rounds, key=lambda r: r["throughput_ratio"])[len(rounds) // 2]
        results[f"bare_{name}"], results[f"app_{name}"] = middle["bare"], middle["app"]
        cpu = lambda side: _median([r[side]["cpu_ms_per_request"]["server"] for r in rounds])
        results[f"{name}_ratio"] = {"throughput": middle["throughput_ratio"], "p50": middle["p50_ratio"],
                                    "p99": _median([r["p99_ratio"] for r in rounds]),
                                    "throughput_all_rounds": [r["throughput_ratio"] for r in rounds],
                                    "p99_all_rounds": [r["p99_ratio"] for r in rounds],
                                    "server_cpu_ms_per_request": {"app": cpu("app"), "bare": cpu("bare")}}
        results[f"{name}_rounds"] = rounds
    results["redis_round_trips"] = round_trips(stack, incoming[-100:], callbacks)
    results["ringing_transfers"] = len(transfers)
    # Kept for the slow-Twilio re-run (5.), which loads the same webhooks again.
    results["_requests"] = {"incoming": incoming, "callbacks": callbacks}
    return results
