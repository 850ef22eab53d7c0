"""Reloading the recipients file without disturbing transfers in flight.

A Router is immutable: a transfer keeps the Router (or Plan) it started with, and a reload only
swaps which Router `holder.current` returns next. A broken file keeps the last good Router.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from ..destinations import AllowList
from .errors import RoutingError
from .router import Router, load_router

log = logging.getLogger(__name__)


class RouterHolder:
    """Thread-safe holder of the current Router. The first load raises RoutingError if broken."""

    def __init__(self, path: str | os.PathLike, allow_list: AllowList | None = None,
                 loader: Callable[..., Router] = load_router):
        self.path = os.fspath(path)
        self.allow_list = allow_list
        self._loader = loader
        self._lock = threading.Lock()
        self._current = loader(self.path, allow_list)
        self.last_error: str | None = None
        self.generation = 1

    @property
    def current(self) -> Router:
        return self._current

    def reload(self) -> tuple[bool, str]:
        """Load the file again. (True, "...") when swapped; (False, why) keeps the last good one."""
        with self._lock:
            try:
                router = self._loader(self.path, self.allow_list)
            except RoutingError as exc:
                self.last_error = exc.message
                message = f"kept the last good recipients file: {exc.message}"
                log.warning("routing reload failed: %s", message)
                return False, message
            except Exception as exc:  # never let a reload take the service down
                self.last_error = f"{type(exc).__name__}: {exc}"
                message = f"kept the last good recipients file: {self.last_error}"
                log.exception("routing reload failed")
                return False, message
            self._current = router
            self.last_error = None
            self.generation += 1
            c = router.config
            message = (f"reloaded {self.path}: {len(c.recipients)} recipients, {len(c.groups)} groups, "
                       f"{len(c.rotations)} rotations, {len(c.rules)} rules")
            log.info(message)
            return True, message


def _signature(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def watch(holder: RouterHolder, interval: float = 1.0,
          on_reload: Callable[[bool, str], None] | None = None) -> threading.Event:
    """Poll the file's mtime in a daemon thread and reload on change. Set the returned Event to stop."""
    stop = threading.Event()
    seen = _signature(holder.path)

    def loop():
        nonlocal seen
        while not stop.wait(interval):
            sig = _signature(holder.path)
            if sig is None or sig == seen:
                continue
            seen = sig
            ok, message = holder.reload()
            if on_reload:
                on_reload(ok, message)

    threading.Thread(target=loop, name="routing-watch", daemon=True).start()
    return stop
