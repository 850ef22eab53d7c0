"""Helpers shared by the measurements: percentiles, bulk inbound calls, starting and awaiting transfers."""
from __future__ import annotations

import http.client
import json
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import urlparse

import requests

from bench.stack import AGENT_NUMBER, Stack


def percentile(values, q: float):
    """Nearest-rank percentile (q in 0..100); None for no values."""
    values = sorted(values)
    if not values:
        return None
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[rank - 1]


def distribution(values, scale: float = 1.0, digits: int = 1) -> dict:
    """n, p50, p90, p99, max (and min) of `values` multiplied by `scale` (e.g. 1000 for ms)."""
    values = [v * scale for v in values]
    if not values:
        return {"n": 0}
    out = {"n": len(values)}
    for name, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        out[name] = round(percentile(values, q), digits)
    out["min"] = round(min(values), digits)
    out["max"] = round(max(values), digits)
    return out


def iso_ts(value: str) -> float:
    """Unix time of an ISO 8601 timestamp (timeline events, RQ job fields)."""
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    return datetime.fromisoformat(value).timestamp()


class Sessions(threading.local):
    """One requests.Session per thread (connection reuse without sharing a Session across threads)."""

    def __init__(self, headers=None):
        self.session = requests.Session()
        if headers:
            self.session.headers.update(headers)


def place_calls(stack: Stack, count: int, *, caller_base: int = 14155551000, timeout: float = 60) -> list[str]:
    """Place `count` inbound calls to the agent's number and wait until every caller is with the agent."""
    callers = [f"+{caller_base + i % 50}" for i in range(count)]
    for caller in sorted(set(callers)):
        stack.sim.add_persona({"address": caller, "kind": "human"})
    local = Sessions()

    def place(caller):
        response = local.session.post(stack.sim.url + "/sim/calls", json={"from": caller, "to": AGENT_NUMBER},
                                      auth=(stack.sim.account_sid, stack.sim.auth_token), timeout=30)
        response.raise_for_status()
        return response.json()["sid"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        sids = list(pool.map(place, callers))
    wanted = set(sids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with_agent = {c["sid"] for c in stack.sim.calls() if c["sid"] in wanted and c["activity"] == "with-agent"}
        if with_agent == wanted:
            return sids
        time.sleep(0.2)
    raise RuntimeError(f"only {len(with_agent)}/{count} inbound calls reached the agent within {timeout}s")


def post_transfer(stack: Stack, session: requests.Session, call_sid: str, body: dict) -> tuple[float, str, int]:
    """POST a transfer; returns (unix time just before sending, transfer id or '', HTTP status)."""
    sent = time.time()
    response = session.post(f"{stack.app_url}/api/calls/{call_sid}/transfers", json=body, timeout=30)
    transfer_id = response.json().get("id", "") if response.status_code == 202 else ""
    return sent, transfer_id, response.status_code


def get_transfer(stack: Stack, session: requests.Session, transfer_id: str) -> dict:
    response = session.get(f"{stack.app_url}/api/transfers/{transfer_id}", timeout=30)
    response.raise_for_status()
    return response.json()


def wait_transfers(stack: Stack, transfer_ids, *, timeout: float, predicate=None,
                   idle_timeout: float | None = None) -> tuple[dict, list[str]]:
    """Poll until every transfer satisfies predicate (default: completed), `timeout` passes, or
    (with idle_timeout) none has got there for that long. Returns (views by id, ids that never did)."""
    predicate = predicate or (lambda view: view["status"] == "completed")
    local = Sessions({"Authorization": stack.api.headers["Authorization"]})
    pending = set(transfer_ids)
    views: dict[str, dict] = {}
    deadline = time.monotonic() + timeout

    def check(transfer_id):
        view = get_transfer(stack, local.session, transfer_id)
        views[transfer_id] = view
        return transfer_id if predicate(view) else None

    progress = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        while pending and time.monotonic() < deadline:
            done = {t for t in pool.map(check, sorted(pending)) if t}
            pending -= done
            if done:
                progress = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - progress > idle_timeout:
                break
            if pending:
                time.sleep(0.25)
    return views, sorted(pending)


def paced(count: int, rate: float, fn, *, threads: int = 4, max_seconds: float = 300) -> list:
    """Call fn(i) for i in range(count) at `rate` per second (open loop) from a thread pool;
    stops scheduling after max_seconds. Returns the results in order (None where not run)."""
    results = [None] * count
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = {}
        for i in range(count):
            due = start + i / rate
            if due - start > max_seconds:
                break
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures[i] = pool.submit(fn, i)
        for i, future in futures.items():
            results[i] = future.result()
    return results


def burst_post(stack: Stack, call_sids: list[str], body_for, *, window: float, threads: int = 32) -> list[tuple]:
    """POST one transfer per call, open loop: request i is due at i * window / n from the start (all
    within `window` seconds when the server keeps up). Each thread keeps one keep-alive connection.
    Returns (due, sent, answered, HTTP status, transfer id) per call, in order (unix times)."""
    target = urlparse(stack.app_url)
    auth = stack.api.headers["Authorization"]
    n = len(call_sids)
    results: list = [None] * n
    lock = threading.Lock()
    nxt = [0]
    start = time.time() + 0.2

    def worker() -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                break
            due = start + i * window / n
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            body = json.dumps(body_for(i))
            sent = time.time()
            try:
                conn.request("POST", f"/api/calls/{call_sids[i]}/transfers", body=body,
                             headers={"Content-Type": "application/json", "Authorization": auth})
                response = conn.getresponse()
                payload = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                results[i] = (due, sent, time.time(), 0, "")
                continue
            transfer_id = json.loads(payload).get("id", "") if status == 202 else ""
            results[i] = (due, sent, time.time(), status, transfer_id)
        conn.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


def wait_finished(stack: Stack, transfer_ids, *, timeout: float, idle_timeout: float = 30) -> tuple[list[str], int]:
    """Wait until every transfer's status is `completed`, read straight from Redis (one pipelined
    HGET and EXISTS per pending transfer every 0.5 s: no web requests, so web CPU and Redis figures
    stay the transfers' own). Returns (ids never completed, Redis commands this wait sent)."""
    from handoff.keys import Keys

    keys = Keys(stack.env["REDIS_KEY_PREFIX"])
    pending = list(transfer_ids)
    sent = 0
    deadline = time.monotonic() + timeout
    progress = time.monotonic()
    while pending and time.monotonic() < deadline and time.monotonic() - progress < idle_timeout:
        with stack.redis.pipeline(transaction=False) as pipe:
            for transfer_id in pending:
                pipe.hget(keys.transfer(transfer_id), "status")
                pipe.exists(keys.archive(transfer_id))     # archived: finished and folded (handoff/archive.py)
            replies = pipe.execute()
        sent += len(pending)
        still = [t for t, s, archived in zip(pending, replies[::2], replies[1::2]) if s != b"completed" and not archived]
        if len(still) < len(pending):
            progress = time.monotonic()
        pending = still
        if pending:
            time.sleep(0.5)
    return pending, sent


def redis_counters(connection) -> dict:
    """Commands by type and CPU seconds Redis has used so far (INFO commandstats and cpu)."""
    stats = connection.info("commandstats")
    cpu = connection.info("cpu")
    return {"commands": {name[len("cmdstat_"):]: value["calls"] for name, value in stats.items()},
            "cpu_s": cpu["used_cpu_user"] + cpu["used_cpu_sys"]}


def redis_delta(before: dict, after: dict, *, exclude: dict[str, int] | None = None) -> dict:
    """Commands and CPU between two redis_counters() snapshots, less the commands the bench itself sent."""
    commands = {name: after["commands"].get(name, 0) - before["commands"].get(name, 0) for name in after["commands"]}
    for name, count in (exclude or {}).items():
        commands[name] = commands.get(name, 0) - count
    commands = {name: count for name, count in commands.items() if count > 0}
    return {"commands": commands, "total": sum(commands.values()), "cpu_s": after["cpu_s"] - before["cpu_s"]}


def rss_mib(pids) -> list[float]:
    """Resident memory of each pid in MiB (from /proc), skipping pids that are gone."""
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            out.append(round(rss / 1024, 1))
        except (OSError, StopIteration, ValueError):
            continue
    return out


class Sampler:
    """Calls `sample()` every `interval` seconds in a thread while used as a context manager."""

    interval = 0.1

    def sample(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


BUSY_PERSONA = "+14155550201"       # busy_desk in bench/recipients.yaml: a cold Dial to it ends at once
_CALL_PATH = re.compile(r"/Calls/(CA[0-9a-f]{32})\.json$")


def first_rest_requests(stack: Stack, since: int = 0) -> dict[str, float]:
    """Call SID -> arrival time of the first REST POST to that call (`calls(sid).update`) the simulator
    received, from its request log entry `since` on (stamped on arrival, before any injected latency)."""
    first: dict[str, float] = {}
    for entry in stack.sim.requests()[since:]:
        match = _CALL_PATH.search(entry["path"])
        if entry["method"] == "POST" and match:
            first[match.group(1)] = min(first.get(match.group(1), entry["time"]), entry["time"])
    return first
