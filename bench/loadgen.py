"""HTTP load: wrk (Debian's `wrk` package) with a Lua script replaying pre-signed POSTs, or a
threaded Python generator when wrk is unavailable. Both stop by themselves at a request count
or a duration, whichever comes first, and report requests/s and latency percentiles."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from bench.common import percentile

CONNECTIONS = 16        # 2 gunicorn workers x 4 threads = 8 in service; 8 more waiting keep them busy
WRK_THREADS = 1         # one wrk thread easily outruns a 2-core Flask server (and leaves it a core)

_LUA = r"""
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  data = {}
  for line in io.lines(args[1]) do
    local p, b, s = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
    if p then data[#data + 1] = {p, b, s} end
  end
  step = tonumber(args[2])
  limit = tonumber(args[3])
  idx = tid
  seen = 0
  non2xx = 0
end
function request()
  local r = data[(idx % #data) + 1]
  idx = idx + step
  return wrk.format("POST", r[1], {["Content-Type"] = "application/x-www-form-urlencoded",
                                   ["X-Twilio-Signature"] = r[3]}, r[2])
end
function response(status, headers, body)
  seen = seen + 1
  if status >= 300 then non2xx = non2xx + 1 end
  if seen >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non2xx") or 0) end
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "non2xx": %d, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, bad,
    e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Request:
    path: str           # path and query
    body: str           # urlencoded form
    signature: str


def find_wrk(allow_install: bool = True) -> str | None:
    """wrk on PATH; as root on Debian, try `apt-get install -y wrk` once (bounded), else None."""
    found = shutil.which("wrk")
    if found or not allow_install:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        for argv in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                     ["apt-get", "install", "-y", "-q", "wrk"]):
            try:
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180,
                               env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            except (OSError, subprocess.TimeoutExpired):
                break
            found = shutil.which("wrk")
            if found:
                return found
    return None


def run(base_url: str, requests: list[Request], *, duration: float, max_requests: int, work_dir: Path,
        connections: int = CONNECTIONS, tool: str | None = None) -> dict:
    """Load `base_url` with `requests` (replayed in order, split across connections) until
    `max_requests` responses or `duration` seconds. Returns req/s, p50/p90/p99/max in ms, errors."""
    tool = tool or ("wrk" if find_wrk() else "python")
    if tool == "wrk":
        return _run_wrk(base_url, requests, duration=duration, max_requests=max_requests, work_dir=work_dir,
                        connections=connections)
    return _run_python(base_url, requests, duration=duration, max_requests=max_requests, connections=connections)


def _run_wrk(base_url, requests, *, duration, max_requests, work_dir, connections) -> dict:
    work_dir.mkdir(parents=True, exist_ok=True)
    data = work_dir / "wrk-requests.tsv"
    data.write_text("".join(f"{r.path}\t{r.body}\t{r.signature}\n" for r in requests))
    script = work_dir / "wrk-replay.lua"
    script.write_text(_LUA)
    per_thread = max(1, max_requests // WRK_THREADS)
    argv = [find_wrk(), "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{max(1, round(duration))}s",
            "--timeout", "10s", "-s", str(script), base_url, "--", str(data), str(WRK_THREADS), str(per_thread)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    line = next((l for l in out.stdout.splitlines() if l.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    raw = json.loads(line[len("BENCHJSON "):])
    seconds = raw["duration_us"] / 1e6
    return {"tool": "wrk", "connections": connections, "requests": raw["requests"], "seconds": round(seconds, 2),
            "rps": round(raw["requests"] / seconds, 1), "p50_ms": raw["p50_us"] / 1000,
            "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000,
            "non2xx": raw["non2xx"], "errors": raw["errors"]}


def _run_python(base_url, requests, *, duration, max_requests, connections) -> dict:
    """Fallback: one thread per connection, keep-alive http.client; weaker than wrk (the GIL)."""
    target = urlparse(base_url)
    latencies: list[float] = []
    counts = {"non2xx": 0, "errors": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + duration
    budget = [max_requests]

    def take() -> bool:
        with lock:
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            return True

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        i = index
        mine = []
        while time.monotonic() < stop_at and take():
            r = requests[i % len(requests)]
            i += connections
            start = time.perf_counter()
            try:
                conn.request("POST", r.path, body=r.body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": r.signature})
                response = conn.getresponse()
                response.read()
                mine.append(time.perf_counter() - start)
                if response.status >= 300:
                    with lock:
                        counts["non2xx"] += 1
            except (OSError, http.client.HTTPException):
                with lock:
                    counts["errors"] += 1
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        with lock:
            latencies.extend(mine)
        conn.close()

    began = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - began
    ms = [v * 1000 for v in latencies]
    return {"tool": "python", "connections": connections, "requests": len(ms), "seconds": round(seconds, 2),
            "rps": round(len(ms) / seconds, 1), "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90),
            "p99_ms": percentile(ms, 99), "max_ms": max(ms) if ms else None, **counts}
