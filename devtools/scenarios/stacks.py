"""Where scenarios run: `make run`'s instance when it is up and serves the same recipients file,
else a LocalStack of their own per recipients file (temporary state directory, free ports, output
to a log file), stopped at the end."""
from __future__ import annotations

import re
import shutil
import signal
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Mapping

from devtools.embedded_redis import free_port
from devtools.local_env import ROOT

from .endpoint import Endpoint, EndpointError
from .files import Recipients, display

RUNNING = ("auto", "always", "never")


class StackError(RuntimeError):
    """No service to run scenarios against (one line)."""


def serves(env: Mapping[str, str], recipients: Recipients) -> bool:
    """True when a running instance's recipients file is this one (and it talks to the simulator)."""
    if recipients.path is None or not env.get("SIM_URL") or not env.get("TRANSFER_CONFIG"):
        return False
    served = Path(env["TRANSFER_CONFIG"])
    served = served if served.is_absolute() else ROOT / served   # the service runs in the project root
    return served.resolve() == recipients.path


_PROCESS_LINE = re.compile(r"^\S+ (web|worker)\.\d+\s*\| (.+)$")


def last_words(log_path: Path) -> str | None:
    """Why web or worker would not start, from a stack's log: their own last complaint (`handoff: ...`,
    `handoff worker: ...`), else the last thing either said that is not gunicorn's [INFO]."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    said = [(m.group(1), m.group(2).strip()) for m in map(_PROCESS_LINE.match, map(str.strip, lines))
            if m and "[INFO]" not in m.group(2)]
    own = [(who, text) for who, text in said if text.startswith(("handoff:", "handoff worker:"))]
    who, text = (own or said or [(None, None)])[-1]
    return f"{who}: {text}" if text else None


class Stacks:
    """The endpoints scenarios run against; `close()` stops the stacks started here."""

    def __init__(self, *, running: str = "auto", var_dir: Path | None = None, sim_settings: Mapping | None = None,
                 say: Callable[[str], None] = lambda line: print(line, file=sys.stderr)):
        from devtools.local_env import var_dir as default_var_dir

        self.running = running
        self.var_dir = Path(var_dir) if var_dir else default_var_dir()
        self.sim_settings = dict(sim_settings or {})
        self.say = say
        self._stacks: list = []
        self._dirs: list[Path] = []
        self._logs: list = []
        self._lock = threading.Lock()
        self._closed = False                # a stack that finishes starting after close() stops at once
        self._keep_logs = False
        self._starting: set[Path] = set()   # state directories of stacks still starting
        self.logs: dict[str, Path] = {}     # recipients key -> its stack's log file

    def endpoints(self, wanted: list[Recipients]) -> dict[str, Endpoint]:
        """An endpoint per recipients file, starting the stacks needed (in parallel)."""
        from devtools.local_stack import running_instance

        found: dict[str, Endpoint] = {}
        instance = running_instance(self.var_dir) if self.running != "never" else None
        to_start = []
        for recipients in wanted:
            if instance and serves(instance, recipients):
                try:
                    found[recipients.key] = Endpoint(instance, origin=f"make run at {instance.get('PUBLIC_BASE_URL')} "
                                                                      f"({display(self.var_dir / 'local.env')})")
                except EndpointError as exc:
                    raise StackError(str(exc)) from None
            elif self.running == "always":
                why = (f"it serves {instance.get('TRANSFER_CONFIG')}" if instance else
                       f"none is up ({display(self.var_dir / 'local.env')} names no live instance)")
                raise StackError(f"--use-running: {recipients.label} needs a make run instance serving it, but {why}")
            else:
                to_start.append(recipients)
        if to_start:
            ports = [(free_port(), free_port(), free_port()) for _ in to_start]   # serially: no two alike
            pool = ThreadPoolExecutor(max_workers=len(to_start))
            try:
                started = list(pool.map(self._start, to_start, ports))
            finally:
                # On a failure or Ctrl-C, do not wait here: a stack still starting stops itself once
                # it is up (close() has run by then), before the interpreter exits.
                pool.shutdown(wait=False, cancel_futures=True)
            found.update(zip((r.key for r in to_start), started))
        return found

    def _start(self, recipients: Recipients, ports: tuple[int, int, int]) -> Endpoint:
        home = Path(tempfile.mkdtemp(prefix="handoff-scenarios-"))
        self._dirs.append(home)
        with self._lock:
            self._starting.add(home)
        try:
            return self._start_in(home, recipients, ports)
        finally:
            with self._lock:
                self._starting.discard(home)

    def _start_in(self, home: Path, recipients: Recipients, ports: tuple[int, int, int]) -> Endpoint:
        from devtools.local_stack import LocalStack, LocalStackError

        path = recipients.path
        if path is None:
            path = home / "recipients.yaml"
            path.write_text(recipients.text, encoding="utf-8")
        log_path = home / "stack.log"
        self.logs[recipients.key] = log_path
        log = open(log_path, "w", encoding="utf-8")
        self._logs.append(log)
        self.say(f"starting a local stack for {recipients.label} (log: {log_path})")
        try:
            stack = LocalStack.isolated(home, path, output=log, ports=ports)
            stack.start()
        except Exception as exc:    # honcho missing, a full disk...: still one line (start stopped what it began)
            what = str(exc) if isinstance(exc, LocalStackError) else f"{type(exc).__name__}: {exc}"
            log.flush()
            said = last_words(log_path)
            raise StackError(f"{recipients.label}: the local stack did not start: {what}"
                             f"{f'; it said: {said}' if said else ''} (log: {log_path})") from None
        with self._lock:
            closed = self._closed
            if not closed:
                self._stacks.append(stack)
        if closed:
            stack.stop()
            log.close()
            if not self._keep_logs:
                shutil.rmtree(home, ignore_errors=True)
            raise StackError(f"{recipients.label}: stopped: the run was over before its stack was up")
        env = {**stack.env, "API_TOKEN": stack.api_token}
        endpoint = Endpoint(env, origin=f"its own stack at {stack.base_url} (log: {log_path})")
        if self.sim_settings:
            try:
                endpoint.sim("POST", "/settings", self.sim_settings)
            except EndpointError as exc:
                raise StackError(f"--sim-set: {exc}") from None
        return endpoint

    def close(self, *, keep_logs: bool = False) -> None:
        """Stop every stack started here; remove their directories unless their logs are wanted.

        Ctrl-C (or SIGTERM) waits until every stack is stopped: a stop cut short would leave a
        Redis or a worker running in the background."""
        with self._lock:
            self._closed, self._keep_logs = True, keep_logs
            stacks, self._stacks = list(self._stacks), []
            starting = set(self._starting)     # they stop and clean up after themselves once up
        main = threading.current_thread() is threading.main_thread()
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}) if main else None
        try:
            for stack in stacks:
                try:
                    stack.stop()
                except Exception as exc:    # keep stopping the others
                    self.say(f"scenarios: stopping the stack at {stack.base_url} failed: {type(exc).__name__}: "
                             f"{exc}")
            for log in self._logs:
                log.close()
            self._logs.clear()
            if not keep_logs:
                for home in self._dirs:
                    if home not in starting:
                        shutil.rmtree(home, ignore_errors=True)
                self._dirs.clear()
        finally:
            if previous is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
