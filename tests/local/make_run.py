"""`make run` as a user runs it: `.venv/bin/python -m devtools.run_local` in its own process group
(a terminal's foreground job), with its own state directory (HANDOFF_VAR_DIR) and free ports."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.embedded_redis import free_port
from devtools.processes import alive, descendants, processes_with

ROOT = Path(__file__).resolve().parents[2]
READY = "Ctrl-C stops everything"
RECIPIENTS = Path(__file__).with_name("recipients.yaml")


def clean_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """A shell with nothing of the developer's Handoff settings in it (empty counts as unset, and the
    shell's value wins over .env's), pointed at `var_dir`."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    blank = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE", "REDIS_URL", "API_TOKEN",
             "PUBLIC_BASE_URL", "HANDOFF_CLOCK", "PROMETHEUS_MULTIPROC_DIR", "GUNICORN_CMD_ARGS")
    return {**env, **dict.fromkeys(blank, ""), "HANDOFF_VAR_DIR": str(var_dir), "PYTHONUNBUFFERED": "1", **extra}


def processes_using(var_dir: Path) -> dict[int, str]:
    """Live processes whose environment names `var_dir` (the stack's, respawned ones included): pid -> command."""
    return processes_with(f"HANDOFF_VAR_DIR={var_dir}\0")   # \0 ends the variable: not var_dir2


class MakeRun:
    """One `make run`: start() waits for its welcome; interrupt() is a terminal's Ctrl-C."""

    def __init__(self, var_dir: Path, *, port: int | None = None, sim_port: int | None = None,
                 redis_port: int | None = None, **extra: str):
        self.var_dir = var_dir
        self.port, self.sim_port, self.redis_port = port or free_port(), sim_port or free_port(), \
            redis_port or free_port()
        self.env = clean_env(var_dir, PORT=str(self.port), SIM_PORT=str(self.sim_port),
                             LOCAL_REDIS_PORT=str(self.redis_port), TRANSFER_CONFIG=str(RECIPIENTS), **extra)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.process: subprocess.Popen | None = None
        self.log: Path | None = None

    def launch(self, log: Path) -> subprocess.Popen:
        """Start it (a new process group, like a terminal's job); its output goes to `log`."""
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "devtools.run_local"], cwd=ROOT, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        return self.process

    def start(self, log: Path, timeout: float = 60) -> "MakeRun":
        """Launch and wait for the welcome text (the service and the simulator answer by then)."""
        self.launch(log)
        deadline = time.monotonic() + timeout
        while READY not in self.output():
            if self.process.poll() is not None:
                raise AssertionError(f"make run exited with {self.process.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"make run not ready in {timeout} s:\n{self.output()}")
            time.sleep(0.1)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def token(self) -> str:
        """The API token the welcome text prints."""
        line = next(line for line in self.output().splitlines() if line.strip().startswith("API token"))
        return line.split()[2]

    def interrupt(self, timeout: float = 10) -> tuple[float, set[int]]:
        """Ctrl-C: SIGINT to the process group. Returns the seconds until make run and every process it
        started had gone, and those still alive after `timeout` (none, normally)."""
        tree = descendants(self.process.pid)
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        deadline = started + timeout
        while (self.process.poll() is None or any(alive(pid) for pid in tree)) and time.monotonic() < deadline:
            tree |= descendants(self.process.pid)
            time.sleep(0.02)
        return time.monotonic() - started, {pid for pid in tree if alive(pid)}

    def kill(self) -> None:
        """Cleanup after a failed test: SIGKILL whatever is left."""
        if self.process is None:
            return
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.process.wait(timeout=10)
