"""Processes seen through Linux /proc (elsewhere: none found): a process tree, and stopping it."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Children, grandchildren, ... of `pid`, however deep (they may run in sessions of their own)."""
    found, queue = set(), [pid]
    while queue:
        current = queue.pop()
        for task in _listdir(f"/proc/{current}/task"):
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    queue.append(child)
    return found


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, already ended, counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def stop_tree(process: subprocess.Popen, sig: int, timeout: float) -> None:
    """Send `sig` to `process`, wait up to `timeout` for it and all it started, then SIGKILL what is left."""
    tree = descendants(process.pid)
    if process.poll() is None:
        process.send_signal(sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tree = {pid for pid in tree | descendants(process.pid) if alive(pid)}
        if process.poll() is not None and not tree:
            return
        time.sleep(0.05)
    for pid in [process.pid, *tree]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    process.wait()


def processes_with(marker: str) -> dict[int, str]:
    """Live processes (not this one) whose environment contains `marker`: pid -> command line."""
    wanted = marker.encode()
    found = {}
    for entry in _listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and alive(int(entry)):
            try:
                if wanted in Path(f"/proc/{entry}/environ").read_bytes():
                    found[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                        errors="replace")
            except OSError:
                continue
    return found


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
