"""Starts the whole system on loopback for a benchmark run, and always tears it down.

One Stack = an embedded Redis, the Twilio simulator (its own process, like the real Twilio),
Handoff under gunicorn with the Procfile's web settings, a bare Flask app under the same
gunicorn settings, and `python -m workers` as the Procfile runs it. Every child is started in
its own session, so stopping it (SIGTERM, then SIGKILL) reaches its children and nothing else.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
import requests
from twilio.request_validator import RequestValidator

from devtools.embedded_redis import free_port, start_embedded_redis
from simulator.testing import TEST_SETTINGS, SimClient, handoff_number

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "beec0ff0" * 4
AUTH_TOKEN = "handoff-bench-auth-token"
API_TOKEN = "bench-api-token-0123456789"
AGENT_NUMBER = "+15005550006"
AGENT_URL = "wss://agent.example.com/relay"

# The Procfile's web line: `gunicorn --workers ${WEB_CONCURRENCY:-2} --threads ${WEB_THREADS:-40} --access-logfile -`.
WEB_WORKERS = 2
WEB_THREADS = 40            # the Procfile default: live event streams (SSE) each hold a thread
WORKER_PROCESSES = 2          # the Procfile's worker default (WORKER_PROCESSES or 2)
# play_seconds: one loop of <Play> in the simulator. The test value (0.2 s) is a loop of hold music
# every 0.2 s, and the simulator plays a conference wait document's <Play loop="0"> once, then asks
# the waitUrl again (Twilio loops it until the wait ends): with the engine's default hold music that
# was a /hold request every ~0.5 s per waiting caller (~300 req/s with 200 on hold), which took a
# core from what we measure. 60 s per loop is what a hold-music file lasts (and what the old default
# hold, <Pause length=60>, cost).
SIM_SETTINGS = {**TEST_SETTINGS, "webhook_timeout": 15, "play_seconds": 60}


def gunicorn_argv(port: int, app_spec: str) -> list[str]:
    """Identical gunicorn settings for Handoff and the bare app (only the app differs)."""
    return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(WEB_WORKERS),
            "--threads", str(WEB_THREADS), "--access-logfile", "-",
            # gunicorn 27's control socket defaults to one path per user: two servers would collide.
            "--no-control-socket", app_spec]


class Stack:
    """Everything a benchmark needs, running; use as a context manager (teardown on any exit)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = []
        self.redis_server = None
        self.sim: SimClient | None = None
        self.env: dict[str, str] = {}

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "Stack":
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        self.redis_server = start_embedded_redis(self.run_dir / "redis")
        self.redis = redis.Redis.from_url(self.redis_server.url)
        sim_port, app_port, bare_port = free_port(), free_port(), free_port()
        sim_args = [a for name, value in SIM_SETTINGS.items() for a in ("--set", f"{name}={value}")]
        self._spawn("simulator", [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(sim_port),
                                  "--account-sid", ACCOUNT_SID, "--auth-token", AUTH_TOKEN, *sim_args], os.environ)
        self.sim = SimClient(f"http://127.0.0.1:{sim_port}", ACCOUNT_SID, AUTH_TOKEN)
        self.app_url = f"http://127.0.0.1:{app_port}"
        self.bare_url = f"http://127.0.0.1:{bare_port}"
        self.env = {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_API_BASE": self.sim.url,
            "PUBLIC_BASE_URL": self.app_url, "REDIS_URL": self.redis_server.url, "API_TOKEN": API_TOKEN,
            "AGENT": AGENT_URL, "TRANSFER_CONFIG": str(ROOT / "bench" / "recipients.yaml"),
            "TRANSFER_ALLOWED_PREFIXES": "+1415555", "REDIS_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:6]}",
            "PORT": str(app_port), "WORKER_PROCESSES": str(WORKER_PROCESSES),
            "SECRET_KEY": "bench-inspector-secret-key-0123456789",
            # Finished transfers fold into their archive 20 s after settling (default 300 s), so the
            # memory figure, taken once RQ's job records have expired, is the kept transfer's.
            "ARCHIVE_AFTER_SECONDS": "20",
        }
        child_env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        self._spawn("app", gunicorn_argv(app_port, "app:create_app()"), child_env)
        self._spawn("bare", gunicorn_argv(bare_port, "bench.bare_app:app"), child_env)
        self._spawn("workers", [sys.executable, "-m", "workers", "--processes", str(WORKER_PROCESSES)], child_env)
        self._wait_http("simulator", lambda: self.sim.settings())
        self._wait_http("app", lambda: requests.get(self.app_url + "/healthz", timeout=2).raise_for_status())
        self._wait_http("bare", lambda: requests.post(self.bare_url + "/ready", timeout=2).raise_for_status())
        self.sim.set_number(AGENT_NUMBER, **handoff_number(self.app_url))
        self.validator = RequestValidator(AUTH_TOKEN)
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {API_TOKEN}"

    def spawn_python(self, name: str, module: str) -> None:
        """Start `python -m module` with the service's environment (stopped by close() or stop())."""
        self._spawn(name, [sys.executable, "-m", module], {**os.environ, **self.env, "PYTHONPATH": str(ROOT)})

    def stop(self, name: str) -> None:
        """Stop one process this Stack started."""
        process = self.processes.pop(name, None)
        if process is not None:
            _stop_group(process)

    def _spawn(self, name: str, argv: list[str], env) -> None:
        log = open(self.run_dir / f"{name}.log", "w")
        self.logs.append(log)
        self.processes[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)

    def _wait_http(self, name: str, probe, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.run_dir / (name + '.log')}")
            try:
                probe()
                return
            except Exception as exc:   # not up yet (or the workers' first heartbeat is pending)
                last = exc
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not come up within {timeout}s: {last}")

    def close(self) -> None:
        """Stop every process this Stack started (by its own process group), then Redis."""
        for name in reversed(list(self.processes)):
            _stop_group(self.processes[name])
        self.processes.clear()
        if self.redis_server is not None:
            self.redis_server.stop()
            self.redis_server = None
        for log in self.logs:
            log.close()
        self.logs.clear()

    # ------------------------------------------------------------------ helpers for measurements
    def sign(self, path_and_query: str, params: dict) -> str:
        """X-Twilio-Signature for a webhook to Handoff (over PUBLIC_BASE_URL + path + query)."""
        return self.validator.compute_signature(self.app_url + path_and_query, params)

    def pids(self, name: str) -> list[int]:
        """The pid of a started process (or 'redis') and of all its descendants (from /proc)."""
        root = self.redis_server.process.pid if name == "redis" else self.processes[name].pid
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
        found, todo = [], [root]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def cpu_seconds(self, name: str) -> float:
        """User+system CPU seconds used so far by a started process and its live descendants."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids(name):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])   # utime, stime (fields 14, 15 of stat)
            except (OSError, IndexError, ValueError):
                continue
        return total / tick

    def own_cpu_seconds(self) -> float:
        """CPU seconds of everything this benchmark runs: the started processes, this process and
        the children it has waited for (wrk)."""
        t = os.times()
        return sum(self.cpu_seconds(name) for name in [*self.processes, "redis"]) + t.user + t.system + \
            t.children_user + t.children_system

    def log_size(self, name: str) -> int:
        """Bytes a started process has written to its log so far."""
        return (self.run_dir / f"{name}.log").stat().st_size

    def log_lines_since(self, name: str, offset: int) -> list[str]:
        """The lines a started process logged after `offset` (e.g. gunicorn's access log)."""
        with open(self.run_dir / f"{name}.log", "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace").splitlines()

    def alive(self) -> dict[str, bool]:
        return {name: p.poll() is None for name, p in self.processes.items()}


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Interference:
    """How much CPU processes outside this benchmark used during a measurement (other people's
    test runs on a shared machine make figures noisy: we report it next to each figure)."""

    def __init__(self, stack: "Stack"):
        self.stack = stack

    def __enter__(self):
        self.began = time.monotonic()
        self.busy, self.own = machine_busy_seconds(), self.stack.own_cpu_seconds()
        return self

    def __exit__(self, *exc):
        elapsed = time.monotonic() - self.began
        busy = machine_busy_seconds() - self.busy
        own = self.stack.own_cpu_seconds() - self.own
        self.result = {"elapsed_s": round(elapsed, 1), "machine_cpu_busy": round(busy / elapsed, 2),
                       "other_processes_cpu": round(max(0.0, busy - own) / elapsed, 2)}


def _stop_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)   # stragglers of the group (e.g. worker children)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
