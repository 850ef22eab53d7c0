"""The service as production runs it, as real processes, for the fault tests.

One Stack = the embedded Redis (AOF, restartable on the same port and directory), the web process
exactly as the Procfile's `web` line runs it (gunicorn serving "app:create_app()"), and the worker
process as the Procfile's `worker` line (`python -m workers --processes 2`). The Twilio simulator
is the caller's (in-process, see conftest.py): it plays Twilio, so it is not restarted.

Every process runs in its own session (process group): stopping or killing it reaches its children
(gunicorn's workers, the RQ worker processes and the scheduler) and nothing else. Readiness is
polled: /healthz for web; RQ workers registered by the new processes for the worker.
"""
from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import sys
import time
import uuid
import weakref
from pathlib import Path

import redis
import requests
from rq import Worker

from devtools.embedded_redis import EmbeddedRedis, free_port
from simulator.testing import handoff_number

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "fa01fa01" * 4
AUTH_TOKEN = "handoff-faults-auth-token"
API_TOKEN = "faults-api-token-0123456789"
AGENT_NUMBER = "+15005550006"
AGENT_URL = "wss://agent.example.com/relay"
WORKER_PROCESSES = 2
WEB_CONCURRENCY = 2
START_TIMEOUT = 45.0          # a loaded 2-core machine can be slow to import everything


def procfile() -> dict[str, str]:
    """The Procfile's process types: {"web": "gunicorn …", "worker": "python -m workers …"}."""
    types = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            types[name.strip()] = command.strip()
    return types


def group_pids(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


class ManagedProcess:
    """One Procfile process type, run as `sh -c 'exec <line>'` in its own session, logging to a file
    that every (re)start appends to."""

    def __init__(self, name: str, command: str, log_path: Path):
        self.name = name
        self.command = command
        self.log_path = log_path
        self.popen: subprocess.Popen | None = None
        self.starts = 0

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def pids(self) -> list[int]:
        """Every live process of this process type (the leader and its children)."""
        return group_pids(self.popen.pid) if self.popen is not None else []

    def start(self, env: dict[str, str]) -> None:
        if self.alive:
            return
        self.starts += 1
        with open(self.log_path, "a") as log:
            log.write(f"\n===== faults harness: start #{self.starts} of {self.name} at "
                      f"{time.strftime('%H:%M:%S')}: {self.command}\n")
            log.flush()
            # The shell expands ${PORT}, ${WORKER_PROCESSES:-2}… as honcho/Heroku would; exec keeps one pid.
            self.popen = subprocess.Popen(["/bin/sh", "-c", f"exec {self.command}"], cwd=ROOT, env=env,
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True)

    def signal_group(self, sig: int) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self, sig: int = signal.SIGKILL, *, timeout: float = 10.0) -> None:
        """Send `sig` to the whole group; for SIGKILL, wait until every process of it is gone."""
        if self.popen is None:
            return
        self._note(f"signal {signal.Signals(sig).name} to the process group")
        self.signal_group(sig)
        if sig == signal.SIGKILL:
            self._wait_gone(timeout)

    def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM to the group (graceful), SIGKILL to whatever is left after `timeout`."""
        if self.popen is None:
            return
        if self.pids():
            self._note("stop (SIGTERM to the process group)")
            self.signal_group(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.pids():
                time.sleep(0.05)
        if self.pids():
            self._note("still running after SIGTERM: SIGKILL")
        self.signal_group(signal.SIGKILL)
        self._wait_gone(5.0)

    def _wait_gone(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.02)
        left = self.pids()
        if left:
            raise RuntimeError(f"{self.name}: processes {left} survived SIGKILL")

    def _note(self, message: str) -> None:
        with open(self.log_path, "a") as log:
            log.write(f"===== faults harness: {message} ({self.name}, pgid {self.pid}) at {time.strftime('%H:%M:%S')}\n")


_LIVE_STACKS: "weakref.WeakSet[Stack]" = weakref.WeakSet()


@atexit.register
def _close_stacks_at_exit() -> None:   # belt and braces: fixtures' finalizers normally did it already
    for stack in list(_LIVE_STACKS):
        try:
            stack.close()
        except Exception:
            pass


class Stack:
    """Redis + web + worker, as production runs them; the simulator (`sim`) plays Twilio.

    Lifecycle: start(), close(), ensure_running(), restart_all();
    per process: start_web/stop_web/kill_web/restart_web, start_workers/stop_workers/kill_workers/
    restart_workers, start_redis/stop_redis/kill_redis/restart_redis.
    Using it: api(), transfer(), wait_transfer(), place_call(), redis_client(), logs.
    """

    def __init__(self, sim, run_dir: Path, *, configure_number: bool = True,
                 worker_processes: int = WORKER_PROCESSES, web_concurrency: int = WEB_CONCURRENCY):
        self.sim = sim
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.configure_number = configure_number
        self.worker_processes = worker_processes
        self.redis = EmbeddedRedis(self.run_dir / "redis")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.key_prefix = f"faults-{uuid.uuid4().hex[:8]}"
        self.env = {
            "TWILIO_ACCOUNT_SID": sim.account_sid, "TWILIO_AUTH_TOKEN": sim.auth_token, "TWILIO_API_BASE": sim.url,
            "PUBLIC_BASE_URL": self.base_url, "REDIS_URL": self.redis.url, "API_TOKEN": API_TOKEN,
            "AGENT": AGENT_URL, "TRANSFER_CONFIG": str(ROOT / "tests" / "fixtures" / "recipients.yaml"),
            "TRANSFER_ALLOWED_PREFIXES": "+1415555", "REDIS_KEY_PREFIX": self.key_prefix,
            "PORT": str(self.port), "BIND_HOST": "127.0.0.1", "WEB_CONCURRENCY": str(web_concurrency),
            "WORKER_PROCESSES": str(worker_processes),
            "PROMETHEUS_MULTIPROC_DIR": str(self.run_dir / "metrics"),   # this stack's processes only
        }
        commands = procfile()
        self.web = ManagedProcess("web", commands["web"], self.run_dir / "web.log")
        self.worker = ManagedProcess("worker", commands["worker"], self.run_dir / "worker.log")
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {API_TOKEN}"
        self._redis_client: redis.Redis | None = None
        self.requested_transfers: list[str] = []     # by transfer(), for the failure report
        _LIVE_STACKS.add(self)

    # ------------------------------------------------------------------ environment
    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "TWILIO_", "REDIS_", "HANDOFF_", "LLM_"))}
        env.update(self.env)
        # The Procfile names gunicorn and python: make them this venv's, as on Heroku's slug.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env["PYTHONPATH"] = str(ROOT)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    @property
    def logs(self) -> dict[str, Path]:
        """Per-process log files: web, worker, redis."""
        return {"web": self.web.log_path, "worker": self.worker.log_path, "redis": self.redis.log_path}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Stack":
        """Start Redis, then web and worker together; return once all three are ready."""
        try:
            self.start_redis()
            self.start_web(wait=False)
            self.start_workers(wait=False)
            self.wait_web_ready()
            self.wait_workers_ready()
            if self.configure_number:
                self.configure_agent_number()
        except BaseException:
            self.close()
            raise
        return self

    def configure_agent_number(self) -> None:
        self.sim.set_number(AGENT_NUMBER, **handoff_number(self.base_url))

    def close(self) -> None:
        """Stop everything this stack started (web, worker, then Redis). Safe to call twice."""
        errors = []
        for process in (self.web, self.worker):
            try:
                process.stop(timeout=1.0)   # the end of the run: no need to wait for keep-alive connections
            except Exception as exc:   # keep going: Redis must stop too
                errors.append(exc)
        self.redis.stop()
        if self._redis_client is not None:
            self._redis_client.close()
            self._redis_client = None
        self._http.close()
        _LIVE_STACKS.discard(self)
        if errors:
            raise errors[0]

    def ensure_running(self) -> None:
        """Start whatever is not running (after a test that killed something), and wait until ready."""
        if not self.redis.running:
            self.start_redis()
        web_down, worker_down = not self.web.alive, not self.worker.alive or not self._workers_registered()
        if worker_down and self.worker.alive:
            self.worker.stop()          # e.g. its RQ processes died with Redis: start it afresh
        if web_down:
            self.web.stop()             # reap a dead leader's leftovers, if any
            self.start_web(wait=False)
        if worker_down:
            self.worker.stop()
            self.start_workers(wait=False)
        if web_down:
            self.wait_web_ready()
        if worker_down:
            self.wait_workers_ready()

    def restart_all(self) -> None:
        """Restart every process: stop web and worker, stop Redis; start Redis, then web and worker."""
        self.stop_web()
        self.stop_workers()
        self.stop_redis()
        self.start_redis()
        self.start_web(wait=False)
        self.start_workers(wait=False)
        self.wait_web_ready()
        self.wait_workers_ready()

    # ------------------------------------------------------------------ redis
    def start_redis(self) -> None:
        self.redis.start()

    def stop_redis(self) -> None:
        self.redis.stop()

    def kill_redis(self, sig: int = signal.SIGKILL) -> None:
        self.redis.kill(sig)

    def restart_redis(self) -> None:
        self.redis.restart()

    def redis_client(self) -> redis.Redis:
        """A client of this stack's Redis (reconnects by itself after a restart)."""
        if self._redis_client is None:
            self._redis_client = redis.Redis.from_url(self.redis.url, socket_timeout=5)
        return self._redis_client

    # ------------------------------------------------------------------ web
    def start_web(self, *, wait: bool = True) -> None:
        self.web.start(self.child_env())
        if wait:
            self.wait_web_ready()

    def stop_web(self) -> None:
        self.web.stop()

    def kill_web(self, sig: int = signal.SIGKILL) -> None:
        self.web.kill(sig)

    def restart_web(self) -> None:
        self.stop_web()
        self.start_web()

    def wait_web_ready(self, timeout: float = START_TIMEOUT) -> None:
        """/healthz answers from our gunicorn (200, or 503 while workers or Redis are missing)."""
        def probe():
            response = requests.get(f"{self.base_url}/healthz", timeout=2)
            return "redis" in response.json()

        self._wait_ready(self.web, probe, timeout)

    # ------------------------------------------------------------------ worker
    def start_workers(self, *, wait: bool = True) -> None:
        self.worker.start(self.child_env())
        if wait:
            self.wait_workers_ready()

    def stop_workers(self) -> None:
        self.worker.stop()

    def kill_workers(self, sig: int = signal.SIGKILL) -> None:
        """Signal every process of `python -m workers` (its RQ workers and scheduler included).
        With SIGKILL this returns once all of them are gone; start_workers() brings them back."""
        self.worker.kill(sig)

    def restart_workers(self) -> None:
        self.stop_workers()
        self.start_workers()

    def worker_pids(self) -> list[int]:
        return self.worker.pids()

    def _workers_registered(self) -> bool:
        """RQ workers of the *current* worker process group are registered on our queue."""
        pids = set(self.worker.pids())
        if not pids:
            return False
        try:
            workers = Worker.all(connection=self.redis_client())
        except redis.RedisError:
            return False
        mine = [w for w in workers if w.pid in pids
                and any(q.startswith(self.key_prefix) for q in w.queue_names())]
        return len(mine) >= self.worker_processes

    def wait_workers_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until the new RQ worker processes are registered on the queue (stale registrations of
        killed workers stay in Redis until their TTL, so only workers whose pid is ours count)."""
        self._wait_ready(self.worker, self._workers_registered, timeout)

    # ------------------------------------------------------------------ readiness
    def _wait_ready(self, process: ManagedProcess, probe, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not process.alive:
                raise RuntimeError(f"{process.name} exited with status {process.popen.returncode} while starting;"
                                   f" last lines of {process.log_path}:\n{tail(process.log_path, 40)}")
            try:
                if probe():
                    return
            except Exception as exc:   # not up yet
                last = exc
            time.sleep(0.05)
        raise RuntimeError(f"{process.name} not ready within {timeout:.0f} s (last error: {last!r}); "
                           f"last lines of {process.log_path}:\n{tail(process.log_path, 40)}")

    # ------------------------------------------------------------------ the API and the caller
    def api(self, method: str, path: str, *, json=None, timeout: float = 10, **kwargs) -> requests.Response:
        """One request to the service's API with the bearer token (path starts with /api/)."""
        return self._http.request(method.upper(), self.base_url + path, json=json, timeout=timeout, **kwargs)

    def transfer(self, call_sid: str, body: dict) -> dict:
        """POST /api/calls/{sid}/transfers; asserts 202 and returns the transfer."""
        response = self.api("post", f"/api/calls/{call_sid}/transfers", json=body)
        assert response.status_code == 202, (response.status_code, response.text)
        transfer = response.json()
        self.requested_transfers.append(transfer["id"])
        return transfer

    def get_transfer(self, transfer_id: str) -> dict | None:
        """GET /api/transfers/{id}; None while the service cannot answer (restarting, Redis down)."""
        try:
            response = self.api("get", f"/api/transfers/{transfer_id}", timeout=5)
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        return response.json()

    def wait_transfer(self, transfer_id: str, predicate=None, timeout: float = 15, interval: float = 0.05) -> dict:
        """Poll until the transfer satisfies `predicate` (default: status completed); returns it."""
        predicate = predicate or (lambda t: t["status"] == "completed")
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            body = self.get_transfer(transfer_id)
            if body is not None:
                last = body
                if predicate(body):
                    return body
            time.sleep(interval)
        summary = None if last is None else {
            "status": last.get("status"), "outcome": last.get("outcome"),
            "events": [e.get("event") for e in last.get("timeline", [])]}
        raise AssertionError(f"transfer {transfer_id}: condition not met within {timeout} s; last seen {summary}")

    def place_call(self, caller: str, *, persona: dict | None = None, timeout: float = 10) -> str:
        """A call from `caller` to the agent's number; returns its SID once the caller is with the agent."""
        self.sim.add_persona({"address": caller, "kind": "human", **(persona or {})})
        sid = self.sim.place_call(caller, AGENT_NUMBER)
        self.sim.wait_for(lambda: self.sim.call(sid)["activity"] == "with-agent", timeout=timeout,
                          message=f"caller {caller} with the agent")
        return sid

    # ------------------------------------------------------------------ logs
    def log_marks(self) -> dict[str, int]:
        """Current size of every log, to show only what a test wrote."""
        return {name: (path.stat().st_size if path.exists() else 0) for name, path in self.logs.items()}

    def logs_since(self, marks: dict[str, int] | None, *, max_lines: int = 250) -> dict[str, str]:
        out = {}
        for name, path in self.logs.items():
            if not path.exists():
                continue
            with open(path, "rb") as f:
                f.seek((marks or {}).get(name, 0))
                text = f.read().decode(errors="replace")
            lines = _compact(text.splitlines())
            if len(lines) > max_lines:
                lines = [f"… {len(lines) - max_lines} earlier lines in {path}"] + lines[-max_lines:]
            out[name] = "\n".join(lines) or "(nothing written during this test)"
        return out


def _is_poll(line: str) -> bool:
    return ('"GET /api/transfers/' in line or '"GET /healthz' in line) and "python-requests" in line


_TIMESTAMPS = re.compile(r"\[\d\d/\w{3}/\d{4}:[\d:]+ [+-]\d{4}\]|^\d{4}-\d\d-\d\d [\d:,.]+ ")
_CLIENT_NOISE = ("twilio.http_client INFO Headers", "twilio.http_client INFO Content-Type",
                 "twilio.http_client INFO Accept", "twilio.http_client INFO User-Agent",
                 "twilio.http_client INFO X-Twilio-Client", "twilio.http_client INFO -- ",
                 "twilio.http_client INFO Response Headers")


def _compact(lines: list[str]) -> list[str]:
    """Drop the harness's own polling and the Twilio client's header dumps; fold runs of lines that
    differ only by their timestamp (hold-music loops) into one line and a count."""
    out, polls, last_key, repeats = [], 0, None, 0
    for line in lines:
        if _is_poll(line):
            polls += 1
            continue
        if any(noise in line for noise in _CLIENT_NOISE):
            continue
        key = _TIMESTAMPS.sub("", line)
        if key == last_key:
            repeats += 1
            continue
        if repeats:
            out.append(f"    … the same {repeats} more time(s)")
        out.append(line)
        last_key, repeats = key, 0
    if repeats:
        out.append(f"    … the same {repeats} more time(s)")
    if polls:
        out.append(f"({polls} access-log lines of the harness polling /api/transfers and /healthz omitted)")
    return out


def tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
