"""Where scenarios run: `make run`'s instance when it is up and serves the same recipients file,
else a LocalStack of their own per recipients file (temporary state directory, free ports, output
to a log file), stopped at the end."""
from __future__ import annotations

import shutil
import sys
import tempfile
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
        self.logs: dict[str, Path] = {}     # recipients key -> its stack's log file

    def endpoints(self, wanted: list[Recipients]) -> dict[str, Endpoint]:
        """An endpoint per recipients file, starting the stacks needed (in parallel)."""
        from devtools.local_stack import running_instance

        found: dict[str, Endpoint] = {}
        instance = running_instance(self.var_dir) if self.running != "never" else None
        to_start = []
        for recipients in wanted:
            if instance and serves(instance, recipients):
                found[recipients.key] = Endpoint(instance, origin=f"make run at {instance['PUBLIC_BASE_URL']}")
            elif self.running == "always":
                why = (f"it serves {instance.get('TRANSFER_CONFIG')}" if instance else
                       f"none is up ({display(self.var_dir / 'local.env')} names no live instance)")
                raise StackError(f"--use-running: {recipients.label} needs a make run instance serving it, but {why}")
            else:
                to_start.append(recipients)
        if to_start:
            ports = [(free_port(), free_port(), free_port()) for _ in to_start]   # serially: no two alike
            with ThreadPoolExecutor(max_workers=len(to_start)) as pool:
                started = list(pool.map(self._start, to_start, ports))
            found.update(zip((r.key for r in to_start), started))
        return found

    def _start(self, recipients: Recipients, ports: tuple[int, int, int]) -> Endpoint:
        from devtools.local_stack import LocalStack, LocalStackError

        home = Path(tempfile.mkdtemp(prefix="handoff-scenarios-"))
        self._dirs.append(home)
        path = recipients.path
        if path is None:
            path = home / "recipients.yaml"
            path.write_text(recipients.text, encoding="utf-8")
        log_path = home / "stack.log"
        self.logs[recipients.key] = log_path
        log = open(log_path, "w", encoding="utf-8")
        self._logs.append(log)
        port, sim_port, redis_port = ports
        stack = LocalStack(home / "var", port=port, sim_port=sim_port, redis_port=redis_port, output=log, env={
            "TRANSFER_CONFIG": str(path), "REDIS_URL": "",   # always its own embedded Redis
            "PROMETHEUS_MULTIPROC_DIR": str(home / "var" / "metrics")})
        self.say(f"starting a local stack for {recipients.label} (log: {log_path})")
        try:
            stack.start()
        except LocalStackError as exc:
            raise StackError(f"{recipients.label}: the local stack did not start: {exc} (log: {log_path})") from None
        self._stacks.append(stack)
        env = {**stack.env, "API_TOKEN": stack.api_token}
        endpoint = Endpoint(env, origin=f"its own stack at {stack.base_url} (log: {log_path})")
        if self.sim_settings:
            try:
                endpoint.sim("POST", "/settings", self.sim_settings)
            except EndpointError as exc:
                raise StackError(f"--sim-set: {exc}") from None
        return endpoint

    def close(self, *, keep_logs: bool = False) -> None:
        """Stop every stack started here; remove their directories unless their logs are wanted."""
        for stack in self._stacks:
            stack.stop()
        self._stacks.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        if not keep_logs:
            for home in self._dirs:
                shutil.rmtree(home, ignore_errors=True)
            self._dirs.clear()
