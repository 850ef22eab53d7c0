"""7. Analytics after 100,000 transfers: GET /api/analytics and the page's JSON stay fast.

Writing. 100,000 transfers' aggregates, spread over the last DAYS days (more in business hours),
go through the real aggregation code: lua/analytics.lua's `record_attempt` and `record_outcome`,
the functions the transition script calls. They run here inside a bench driver script (DRIVER
below, prepended with base.lua and analytics.lua as store.py prepends them) which, for each
synthetic transfer, sets on a scratch transfer hash the fields those functions read (plan, rule,
mode, attempt, ts_dialed/answered/accepted/hold, att_result, attempts_dialed) and calls them once
per attempt and once for the outcome, into the hash of the UTC hour its last attempt ended in and
the totals (one EVALSHA per 50 transfers of an hour). The state machine that would set those
fields is not run (it would put every transfer in the current hour); the hashes hold exactly what
the Lua writes.

Reading. For the 24 h, 7 d and 30 d windows ending now, in Europe/Paris: the first 4 requests (a
process sums the closed days it has not seen once: `cold`), then REQUESTS sequential requests
(p50/p99), over one keep-alive HTTP connection (so one gunicorn process) as a page does; then the
page's own JSON (/inspector/analytics.json, session cookie) for 7 d, when the stack has a session
key (SECRET_KEY or local mode).
"""
from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import requests

from bench.common import distribution
from bench.stack import API_TOKEN, ROOT, Stack
from handoff.keys import Keys

TRANSFERS = 100_000
DAYS = 30
REQUESTS = 200
WINDOWS = {"24h": 1, "7d": 7, "30d": 30}
DESTINATIONS = [f"desk_{name}" for name in ("billing", "support", "sales", "spanish", "oncall", "retention",
                                              "claims", "renewals", "vip", "front", "tech", "partners")] + \
               ["+14155550100", "sip:desk@pbx.example.com", "retention_agent", "billing+support"]
RULES = ["billing-hours", "spanish", "vip-callers", "after-hours", "claims", "(none)"]
MODES = [("warm", 0.55), ("cold", 0.35), ("agent", 0.10)]
# How an attempt ends, per destination "quality" (picked once per destination).
RESULT_WEIGHTS = [("accepted", 0.58), ("declined", 0.08), ("voicemail", 0.10), ("no-answer", 0.12),
                  ("busy", 0.04), ("failed", 0.02), ("timeout", 0.03), ("hung-up", 0.03)]
OUTCOME_OF = {"accepted": "transfer-success", "declined": "transfer-screening-rejected", "voicemail":
              "transfer-failed-timeout", "no-answer": "transfer-failed-timeout", "timeout": "transfer-failed-timeout",
              "busy": "transfer-failed-connection-error", "failed": "transfer-failed-connection-error",
              "hung-up": "transfer-screening-rejected", "cancelled": "transfer-cancelled"}

DRIVER = """
-- Bench driver: each synthetic transfer's fields on a scratch hash, then the real aggregation.
local k = {t = KEYS[1], hour = KEYS[2], totals = KEYS[3], a_ttl = tonumber(ARGV[2])}
for _, x in ipairs(cjson.decode(ARGV[1])) do
  redis.call('DEL', k.t)
  redis.call('HSET', k.t, 'plan', cjson.encode(x.plan), 'mode', x.mode, 'rule', x.rule, 'created_ts', fmt(x.at))
  if x.hold then redis.call('HSET', k.t, 'ts_hold', fmt(x.at)) end
  for i, a in ipairs(x.attempts) do
    redis.call('HDEL', k.t, 'ts_dialed', 'ts_answered', 'ts_accepted')
    redis.call('HSET', k.t, 'attempt', i - 1, 'ts_dialed', fmt(a.dialed), 'att_result', a.result)
    redis.call('HINCRBY', k.t, 'attempts_dialed', 1)
    if a.answered then redis.call('HSET', k.t, 'ts_answered', fmt(a.answered)) end
    if a.accepted then redis.call('HSET', k.t, 'ts_accepted', fmt(a.accepted)) end
    record_attempt(k, a.ended, x.outcome)
  end
  if x.hold and not x.hangup then redis.call('HSET', k.t, 'ts_hold_end', fmt(x.hold_end)) end
  record_outcome(k, x.ended, x.outcome, x.detail)
end
redis.call('DEL', k.t)
return #cjson.decode(ARGV[1])
"""


def _script_source() -> str:
    lua = ROOT / "handoff" / "lua"
    return "\n".join((lua / f"{part}.lua").read_text() for part in ("base", "analytics")) + DRIVER


def _weighted(rng: random.Random, pairs):
    x, acc = rng.random() * sum(w for _, w in pairs), 0.0
    for value, weight in pairs:
        acc += weight
        if x <= acc:
            return value
    return pairs[-1][0]


def synthetic(count: int, days: int, *, now: float, seed: int = 7) -> dict[str, list[dict]]:
    """`count` transfers as the driver takes them, grouped by UTC hour ('YYYYMMDDHH')."""
    rng = random.Random(seed)
    quality = {d: [(r, w * rng.uniform(0.5, 1.6)) for r, w in RESULT_WEIGHTS] for d in DESTINATIONS}
    by_hour: dict[str, list[dict]] = defaultdict(list)
    start = now - days * 86400
    for _ in range(count):
        while True:      # busier in (UTC) business hours
            at = rng.uniform(start, now - 60)
            hour = time.gmtime(at).tm_hour
            if rng.random() < (1.0 if 8 <= hour < 18 else 0.25):
                break
        mode = _weighted(rng, MODES)
        chain = rng.sample(DESTINATIONS, 3)
        attempts, clock, hold = [], at + rng.uniform(0.2, 1.5), mode == "warm"
        for depth, dest in enumerate(chain):
            result = _weighted(rng, quality[dest])
            answered = accepted = None
            ring = rng.lognormvariate(1.6, 0.6)
            if result in ("accepted", "declined", "voicemail", "timeout", "hung-up"):
                answered = clock + ring
                if result == "accepted":
                    accepted = answered + (rng.uniform(4, 14) if mode == "warm" else 0.2)
            ended = (accepted or answered or clock + ring) + rng.uniform(0.1, 3)
            attempts.append({"dest": dest, "result": result, "dialed": clock, "answered": answered,
                             "accepted": accepted, "ended": ended})
            clock = ended + rng.uniform(0, 2)
            if result == "accepted" or depth == 2 or rng.random() < 0.4:
                break
        outcome = OUTCOME_OF[attempts[-1]["result"]]
        hangup = hold and rng.random() < 0.04
        if hangup:
            attempts[-1]["result"], outcome = "cancelled", "transfer-cancelled"
        last = attempts[-1]
        by_hour[time.strftime("%Y%m%d%H", time.gmtime(last["ended"]))].append({
            "at": at, "mode": mode, "rule": rng.choice(RULES), "hold": hold, "hangup": hangup,
            "hold_end": last["accepted"] or last["ended"], "ended": last["ended"], "outcome": outcome,
            "detail": "caller hung up" if hangup else outcome,
            "plan": [{"targets": [{"recipient": a["dest"]}]} for a in attempts],
            # No nulls: cjson decodes null as a (truthy) userdata.
            "attempts": [{k: a[k] for k in ("result", "dialed", "answered", "accepted", "ended") if a[k] is not None}
                         for a in attempts]})
    return by_hour


def write(stack: Stack, count: int, days: int) -> dict:
    """Aggregate `count` synthetic transfers through the real Lua; Redis time per transfer."""
    keys = Keys(stack.env["REDIS_KEY_PREFIX"])
    source = _script_source()
    sha = stack.redis.script_load(source)
    ttl = str(90 * 86400)
    batches = synthetic(count, days, now=time.time())
    usec_before, calls_before = _evalsha(stack)
    began, written, calls = time.perf_counter(), 0, 0
    pipe = stack.redis.pipeline(transaction=False)
    for n, (hour, batch) in enumerate(sorted(batches.items()), start=1):
        # A batch per hour, split so no single script runs long (it blocks Redis while it runs).
        for i in range(0, len(batch), 50):
            part = batch[i:i + 50]
            pipe.evalsha(sha, 3, keys.analytics("bench-scratch"), keys.analytics(hour), keys.analytics("totals"),
                         json.dumps(part, separators=(",", ":")), ttl)
            calls += 1
        if n % 24 == 0:
            written += sum(pipe.execute())
    written += sum(pipe.execute())
    seconds = time.perf_counter() - began
    usec_after, calls_after = _evalsha(stack)
    hours = [keys.analytics(h) for h in batches]
    fields = sum(stack.redis.hlen(k) for k in hours)
    memory = sum(stack.redis.memory_usage(k) or 0 for k in hours)
    return {"transfers": written, "days": days, "hour_buckets": len(hours), "fields": fields,
            "fields_per_hour": round(fields / max(1, len(hours))), "redis_bytes": memory,
            "totals_fields": stack.redis.hlen(keys.analytics("totals")),
            "write_seconds": round(seconds, 1),
            # Redis's own time in scripts (INFO commandstats), the driver's few commands included;
            # scripts others ran meanwhile (transfers still finishing) would be counted too: say how many.
            "redis_us_per_transfer": round((usec_after - usec_before) / max(1, written), 1),
            "other_scripts_meanwhile": calls_after - calls_before - calls}


def _evalsha(stack: Stack) -> tuple[int, int]:
    stats = stack.redis.info("commandstats").get("cmdstat_evalsha", {})
    return int(stats.get("usec", 0)), int(stats.get("calls", 0))


def _rss_mib(stack: Stack) -> float:
    """Resident memory of the web processes (gunicorn's master and workers)."""
    total = 0
    for pid in stack.pids("app"):
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError):
            continue
    return round(total / 1024, 1)


def _timed(session: requests.Session, url: str, params: dict) -> tuple[float, int]:
    began = time.perf_counter()
    response = session.get(url, params=params, timeout=60)
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    return elapsed, len(response.content)


def read(stack: Stack, url: str, session: requests.Session, window_days: int, requests_: int) -> dict:
    """Cold first requests, then `requests_` sequential ones (the window ends now, as the page asks)."""
    def params():
        until = datetime.now(timezone.utc)
        return {"since": (until - timedelta(days=window_days)).isoformat(), "until": until.isoformat(),
                "tz": "Europe/Paris"}

    # gunicorn runs several processes, each with its own sums: the first few requests meet cold ones.
    cold = [_timed(session, url, params()) for _ in range(4)]
    warm = [_timed(session, url, params()) for _ in range(requests_)]
    return {"cold_ms": [round(t * 1000, 1) for t, _ in cold], "warm_ms": distribution([t for t, _ in warm], 1000),
            "bytes": warm[-1][1]}


def measure(stack: Stack, *, transfers: int = TRANSFERS, requests_: int = REQUESTS) -> dict:
    out = {"write": write(stack, transfers, DAYS), "web_rss_mib_before": _rss_mib(stack)}
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {API_TOKEN}"
    for name, days in WINDOWS.items():
        out[f"api_{name}"] = read(stack, stack.app_url + "/api/analytics", api, days, requests_)
    page = requests.Session()
    login = page.post(stack.app_url + "/inspector/login", data={"token": API_TOKEN}, allow_redirects=False, timeout=10)
    if login.status_code == 303:
        out["page_7d"] = read(stack, stack.app_url + "/inspector/analytics.json", page, 7, requests_)
    else:
        out["page_7d"] = {"skipped": f"no Inspector session (login answered {login.status_code}: "
                                     "the stack has no SECRET_KEY)"}
    out["web_rss_mib_after"] = _rss_mib(stack)     # what the kept sums cost in memory
    return out


def rows(r: dict) -> list[tuple[str, str, str, str]]:
    """The table's rows for this measurement."""
    w = r["write"]
    out = [(f"7. analytics ({w['transfers']:,} transfers, {w['days']} d)",
            "aggregates: hour buckets | fields per hour | Redis MB",
            f"{w['hour_buckets']} | {w['fields_per_hour']} | {w['redis_bytes'] / 2**20:.1f}", ""),
           ("", "Lua aggregation: Redis time per transfer (us) | other scripts meanwhile",
            f"{w['redis_us_per_transfer']} | {w['other_scripts_meanwhile']}", ""),
           ("", "web processes' memory before | after reading (MiB)",
            f"{r['web_rss_mib_before']} | {r['web_rss_mib_after']}", "")]
    for name in ("api_24h", "api_7d", "api_30d", "page_7d"):
        x = r.get(name) or {}
        if "skipped" in x:
            out.append(("", f"{name}: not measured", x["skipped"], ""))
            continue
        label = name.replace("api_", "GET /api/analytics ").replace("page_", "page JSON ")
        out.append(("", f"{label} p50 / p99 ms (n={x['warm_ms']['n']}) | first 4", f"{x['warm_ms']['p50']} / "
                    f"{x['warm_ms']['p99']} | {', '.join(str(c) for c in x['cold_ms'])}", "tens of ms"))
    return out


if __name__ == "__main__":     # `python -m bench.analytics [--quick]`: this measurement alone
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    run_dir = ROOT / "var" / "bench" / f"analytics-{time.strftime('%Y%m%d-%H%M%S')}"
    with Stack(run_dir) as stack:
        result = measure(stack, transfers=10_000 if args.quick else TRANSFERS, requests_=30 if args.quick else REQUESTS)
    print(json.dumps(result, indent=2))
    for row in rows(result):
        print("  ".join(row), file=sys.stderr)
