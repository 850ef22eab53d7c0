"""Extra apps for tests that need settings the session app does not have (on the session's Redis)."""
from __future__ import annotations

import contextlib
import signal
import threading

from werkzeug.serving import make_server


@contextlib.contextmanager
def built_app(service_env: dict, **overrides: str):
    """create_app with overrides; afterwards its file watcher stops, and SIGHUP's handler and the
    log masking (both process-wide) are as they were."""
    from app import create_app
    from handoff.log_masking import masking_enabled, setup_log_masking

    masked = masking_enabled()
    previous = signal.getsignal(signal.SIGHUP) if threading.current_thread() is threading.main_thread() else None
    flask_app = create_app({**service_env, **overrides})
    flask_app.extensions["previous_sighup"] = previous
    try:
        yield flask_app
    finally:
        stop = flask_app.extensions.get("routing_watch")
        if stop is not None:
            stop.set()
        if previous is not None:
            signal.signal(signal.SIGHUP, previous)
        setup_log_masking(not masked)


@contextlib.contextmanager
def served(flask_app, port: int):
    """Serve an app on 127.0.0.1:port in a daemon thread."""
    server = make_server("127.0.0.1", port, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
