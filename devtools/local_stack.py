"""The local stack `make run` starts (and the scenario runner): embedded Redis, the Twilio simulator
with examples/personas.yaml and the agent's number, and the Procfile's web + worker under honcho.

One stack per state directory (var/, or HANDOFF_VAR_DIR) and per set of ports: a second one is
refused with one line before anything starts. Every child runs in its own session, so a terminal's
Ctrl-C reaches only the process that owns the stack, which stops them in order: web and worker
first, then the simulator, Redis last (the workers deregister from it, leaving no stale RQ lock)."""
from __future__ import annotations

import ctypes
import fcntl
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Mapping

from dotenv import dotenv_values

from devtools.embedded_redis import EmbeddedRedis, free_port
from devtools.local_env import ROOT, read_local_env, retire_local_env, write_local_env
from devtools.processes import descendants, stop_tree

AGENT_NUMBER = "+15005550006"
DEFAULT_PORTS = {"PORT": 5000, "SIM_PORT": 8099, "LOCAL_REDIS_PORT": 6390}
SIM_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SIM_AUTH_TOKEN = "local-simulator-token"
STOP_SECONDS = 2.5     # web + worker get this long to stop before they are killed
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class LocalStackError(RuntimeError):
    """The stack could not start; the message is one line saying why."""


def running_instance(var_dir: Path) -> dict[str, str] | None:
    """The environment make run wrote to <var_dir>/local.env, if that instance is alive (its /healthz answers)."""
    env = read_local_env(Path(var_dir) / "local.env")
    if not env.get("PORT") or not _answers(f"http://127.0.0.1:{env['PORT']}/healthz", expect='"redis"', timeout=2):
        return None
    return env


class LocalStack:
    """What `make run` starts: embedded Redis, the Twilio simulator, and the Procfile's web + worker (honcho)."""

    def __init__(self, var_dir: Path, *, env: Mapping[str, str] | None = None, port: int | None = None,
                 sim_port: int | None = None, redis_port: int | None = None, output: IO | None = None,
                 simulator: bool = True):
        # The service's environment: .env, the shell's over it (as python-dotenv does), then `env`;
        # make run's own values on top. An empty variable counts as unset.
        self.var_dir = Path(var_dir).resolve()
        base = {**{k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}, **os.environ,
                **(env or {})}
        try:
            ports = {name: explicit or int(base.get(name) or default) for (name, default), explicit in
                     zip(DEFAULT_PORTS.items(), (port, sim_port, redis_port))}
        except ValueError as exc:
            raise LocalStackError(f"PORT, SIM_PORT and LOCAL_REDIS_PORT must be port numbers ({exc})") from None
        self.port, self.sim_port, self.redis_port = ports["PORT"], ports["SIM_PORT"], ports["LOCAL_REDIS_PORT"]
        self.output = output
        self.simulator = simulator
        self.embedded_redis = not base.get("REDIS_URL")
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.sim_url = f"http://127.0.0.1:{self.sim_port}" if simulator else ""
        self.sim_auth = (SIM_ACCOUNT_SID, SIM_AUTH_TOKEN) if simulator else ("", "")
        self.agent_number = AGENT_NUMBER
        self._inherited = dict(os.environ)
        self.env = self._service_env(base)
        self.api_token = self._api_token()
        self.redis: EmbeddedRedis | None = None
        self._sim: subprocess.Popen | None = None
        self._honcho: subprocess.Popen | None = None
        self._lock: int | None = None
        self._stopped = True

    @classmethod
    def isolated(cls, home: Path, transfer_config: Path, *, output: IO | None = None,
                 ports: tuple[int, int, int] | None = None) -> "LocalStack":
        """A stack of its own serving `transfer_config`: state in home/var, its own embedded Redis, and
        `ports` (web, simulator, Redis; None = free ones). The scenario runner's, and its tests'."""
        var_dir = Path(home) / "var"
        port, sim_port, redis_port = ports or (free_port(), free_port(), free_port())
        return cls(var_dir, port=port, sim_port=sim_port, redis_port=redis_port, output=output, env={
            "TRANSFER_CONFIG": str(transfer_config), "REDIS_URL": "",   # never the shell's Redis
            "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "metrics")})

    def _service_env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        env["PORT"] = str(self.port)
        if self.simulator:   # the simulator calls back here: its account, and this service's own URL
            env.update(TWILIO_ACCOUNT_SID=SIM_ACCOUNT_SID, TWILIO_AUTH_TOKEN=SIM_AUTH_TOKEN,
                       TWILIO_API_BASE=self.sim_url, SIM_URL=self.sim_url, SIM_PORT=str(self.sim_port),
                       PUBLIC_BASE_URL=self.base_url)
        if self.embedded_redis:
            env["REDIS_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
            env["LOCAL_REDIS_PORT"] = str(self.redis_port)
        defaults = {
            "PUBLIC_BASE_URL": self.base_url,
            "AGENT": f"wss://127.0.0.1:{self.port}/demo/agent",
            "TRANSFER_CONFIG": str(ROOT / "examples" / "recipients.yaml"),
            "TRANSFER_ALLOWED_PREFIXES": "+1415555,+1628555",
            "HANDOFF_DEMO": "1",
            "BIND_HOST": "127.0.0.1",   # local mode: the demo routes stay on this machine
            # One gunicorn worker (40 threads) is plenty on one machine, and starts and stops in half
            # the CPU time: a stopping worker spends most of its exit tearing down the interpreter.
            "WEB_CONCURRENCY": "1",
            # One metrics directory for web and worker (Prometheus multiprocess mode), with the rest of var/.
            "PROMETHEUS_MULTIPROC_DIR": str(self.var_dir / "metrics"),
        }
        env.update({name: value for name, value in defaults.items() if not env.get(name)})
        # No HTTP keep-alive locally (the simulator's webhooks gain nothing from it): on a stop,
        # gunicorn lets kept-alive connections linger up to 2 s before its workers exit.
        env["GUNICORN_CMD_ARGS"] = f"--keep-alive 0 {env.get('GUNICORN_CMD_ARGS', '')}".strip()
        env["HANDOFF_LOCAL"] = "1"                 # local mode: the Inspector shows what each party heard
        env["HANDOFF_VAR_DIR"] = str(self.var_dir)
        # The Procfile names gunicorn and python: make them this venv's, as on Heroku's slug.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def _api_token(self) -> str:
        """API_TOKEN from the environment wins; else the one kept in <var>/api-token (made on first use)."""
        from handoff.config import ConfigError, _token_labels

        self.token_from_env = bool(self.env.get("API_TOKEN"))
        if not self.token_from_env:
            self.env["API_TOKEN"] = _stored_token(self.var_dir / "api-token")
        try:
            return next(iter(_token_labels(self.env["API_TOKEN"])))
        except ConfigError as exc:
            raise LocalStackError(str(exc)) from None

    # --- start -------------------------------------------------------------------------------

    def start(self) -> "LocalStack":
        """Start everything; returns when /healthz and the simulator answer. Raises LocalStackError (one line)."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self._stopped = False
        try:
            self._check_ports()
            if self.embedded_redis:
                self.redis = EmbeddedRedis(self.var_dir / f"redis-{self.redis_port}", port=self.redis_port,
                                           own_session=True)
                try:
                    self.redis.start()
                except RuntimeError as exc:
                    raise LocalStackError(f"embedded Redis: {exc}") from None
            if self.simulator:
                self._sim = self._spawn(
                    [sys.executable, "-m", "simulator", "--port", str(self.sim_port), "--personas",
                     str(ROOT / "examples" / "personas.yaml"), "--set", "strict=true"])
            self._honcho = self._spawn([str(Path(sys.executable).with_name("honcho")), "start", "-f",
                                        str(ROOT / "Procfile")])
            watch = [p for p in (self._sim, self._honcho) if p]
            # /healthz from *this* service (not whatever else holds the port): it names its Redis state.
            self._wait(f"{self.base_url}/healthz", watch, expect='"redis"', timeout=30, what="the service")
            if self.simulator:
                self._wait(f"{self.sim_url}/sim/settings", watch, timeout=15, what="the simulator")
                self._register_agent_number()
            write_local_env(self.var_dir / "local.env", self._local_env())
        except BaseException:
            self.stop()
            raise
        return self

    def _take_lock(self) -> None:
        fd = os.open(self.var_dir / "run.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").split()
            os.close(fd)
            pid, url = (holder + ["?", "?"])[:2]
            raise LocalStackError(
                f"Handoff is already running here (pid {pid}, {url}, state in {self.var_dir}); stop it first, "
                f"or start another with its own HANDOFF_VAR_DIR, PORT, SIM_PORT and LOCAL_REDIS_PORT") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {self.base_url}\n".encode(), 0)
        self._lock = fd

    def _check_ports(self) -> None:
        wanted = {"PORT": self.port}
        if self.simulator:
            wanted["SIM_PORT"] = self.sim_port
        if self.embedded_redis:
            wanted["LOCAL_REDIS_PORT"] = self.redis_port
        busy = {name: port for name, port in wanted.items() if not _port_free(port)}
        if busy:
            which = ", ".join(f"{port} ({name})" for name, port in busy.items())
            handoff = " (a Handoff answers there)" if "PORT" in busy and _answers(
                f"{self.base_url}/healthz", expect='"redis"', timeout=1) else ""
            raise LocalStackError(f"port{'s' if len(busy) > 1 else ''} in use: {which}{handoff}; stop what "
                                  f"holds {'them' if len(busy) > 1 else 'it'}, or set {', '.join(busy)}")

    def _spawn(self, argv: list[str]) -> subprocess.Popen:
        # Own session: the terminal's Ctrl-C reaches only us, and we stop the children in order.
        # PDEATHSIG: if we die without stopping them (SIGKILL), they are told to stop too. It fires
        # when the starting *thread* ends, so only from the main thread.
        main = threading.current_thread() is threading.main_thread()
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=self.output,
                                stderr=subprocess.STDOUT if self.output else None, start_new_session=True,
                                preexec_fn=_die_with_parent if main and _PRCTL is not None else None)

    def _wait(self, url: str, watch: list[subprocess.Popen], *, timeout: float, what: str,
              expect: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while not _answers(url, expect=expect, timeout=1, auth=self.sim_auth if "/sim/" in url else None):
            dead = next((p for p in watch if p.poll() is not None), None)
            if dead is not None:
                name = "the simulator" if dead is self._sim else "honcho (web + worker)"
                raise LocalStackError(f"{name} exited with status {dead.returncode} while starting "
                                      f"(see its output)")
            if time.monotonic() > deadline:
                raise LocalStackError(f"{what} at {url} did not answer within {timeout:.0f} s")
            time.sleep(0.1)

    def _register_agent_number(self) -> None:
        import requests

        from simulator.testing import handoff_number

        response = requests.post(f"{self.sim_url}/sim/numbers", auth=self.sim_auth, timeout=5,
                                 json={"number": self.agent_number, **handoff_number(self.base_url)})
        if response.status_code >= 300:
            raise LocalStackError(f"the simulator refused the agent's number: {response.status_code} "
                                  f"{response.text[:200]}")

    def _local_env(self) -> dict[str, str]:
        """What tools need to reach this instance: every variable set here or in .env, and the shell's
        service variables (those .env.example names), not the rest of the shell's environment."""
        names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
        names |= {"PORT", "SIM_PORT", "SIM_URL", "LOCAL_REDIS_PORT", "HANDOFF_VAR_DIR", "HANDOFF_LOCAL"}
        return {name: value for name, value in self.env.items()
                if name in names or (name != "PATH" and self._inherited.get(name) != value)}

    # --- stop --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Web + worker first, then the simulator, Redis last; < 3 s; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        # A second Ctrl-C must not cut the stop short (leaving Redis, or half the workers, running):
        # SIGINT/SIGTERM wait until the stop is done.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS) if main else None
        try:
            retire_local_env(self.var_dir / "local.env")
            if self._honcho is not None:
                stop_tree(self._honcho, signal.SIGTERM, STOP_SECONDS)
            if self._sim is not None:
                stop_tree(self._sim, signal.SIGTERM, 1.0)
            if self.redis is not None:
                self.redis.stop()   # last: the workers deregistered from it as they stopped
            if self._lock is not None:
                os.close(self._lock)
                self._lock = None
        finally:
            if previous is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def wait(self) -> int:
        """Block until web or worker exits (honcho then stops the other); its exit status."""
        return self._honcho.wait() if self._honcho is not None else 0

    def __enter__(self) -> "LocalStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def pids(self) -> list[int]:
        """Every process of the stack now running (Redis, simulator, honcho and all it started)."""
        roots = [p.pid for p in (self._honcho, self._sim) if p is not None and p.poll() is None]
        if self.redis is not None and self.redis.pid:
            roots.append(self.redis.pid)
        return [pid for root in roots for pid in [root, *descendants(root)]]


def _stored_token(path: Path) -> str:
    """The token in `path`, made (0600) the first time: stable across runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = "local-" + secrets.token_hex(16)
    try:   # O_EXCL: two first runs at once still end up with one token
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        kept = path.read_text().strip()
        if len(kept) >= 16:
            return kept
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)   # empty or damaged: made again
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def _answers(url: str, *, expect: str | None, timeout: float, auth: tuple[str, str] | None = None) -> bool:
    request = urllib.request.Request(url)
    if auth:
        import base64

        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return expect is None or expect in response.read().decode(errors="replace")
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the servers bind: TIME_WAIT is no owner
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


try:
    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl    # looked up here: the child only calls it
except (OSError, AttributeError):                    # not Linux
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the process that started it dies (Linux; elsewhere nothing)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
