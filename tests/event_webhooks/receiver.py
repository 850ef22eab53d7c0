"""A local HTTP receiver of event webhooks, scripted per test: it records every delivery it gets."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Callable

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from handoff import webhook_signature

HOLD = "hold"     # a script's answer: keep the request open until `release()` (then answer 500)


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):   # the test's report says what was received
        pass


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver got, and what it answered."""

    event_id: str
    attempt: int
    signed: bool              # the signature verified with the secret
    status: int | str         # the HTTP status answered, or 'held' (the sender died while it was held)
    envelope: dict
    headers: dict
    at: float

    @property
    def transfer_id(self) -> str:
        return self.envelope.get("transfer_id", "")


class Receiver:
    """`script(delivery_number, envelope) -> status | HOLD` decides each answer; `delivery_number`
    counts this event's deliveries (1, 2, ...). The default answers 200."""

    def __init__(self, secret: str):
        self.secret = secret
        self.script: Callable[[int, dict], int | str] = lambda n, envelope: 200
        self.deliveries: list[Delivery] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.held = threading.Event()          # set while a request is being held
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}/handoff-events"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()

    def reset(self, script: Callable[[int, dict], int | str] | None = None) -> None:
        """Forget what was received and answer with `script` from now on."""
        with self._lock:
            self.deliveries.clear()
            self._counts.clear()
            self.script = script or (lambda n, envelope: 200)
            self._release = threading.Event()
            self.held.clear()

    def release(self) -> None:
        """Let a held request end (with a 500: its sender is gone anyway)."""
        self._release.set()

    def of(self, transfer_id: str) -> list[Delivery]:
        """The deliveries of one transfer's events, in the order they arrived."""
        with self._lock:
            return [d for d in self.deliveries if d.transfer_id == transfer_id]

    def _app(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        envelope = json.loads(body)
        event_id = request.headers.get("Handoff-Event-Id", "")
        with self._lock:
            self._counts[event_id] = number = self._counts.get(event_id, 0) + 1
            answer = self.script(number, envelope)
            release = self._release
        if answer == HOLD:
            self.held.set()
            release.wait(60)
            recorded, answer = "held", 500
        else:
            recorded = answer
        delivery = Delivery(event_id=event_id, attempt=int(request.headers.get("Handoff-Delivery-Attempt", "0")),
                            signed=webhook_signature.verify(self.secret, body, request.headers.get("Handoff-Signature")),
                            status=recorded, envelope=envelope, headers=dict(request.headers), at=time.time())
        with self._lock:
            self.deliveries.append(delivery)
        return Response("ok" if answer == 200 else "try later", status=answer)(environ, start_response)
