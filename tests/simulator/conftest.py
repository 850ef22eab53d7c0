"""Fixtures: an in-process simulator, the official twilio client pointed at it, a webhook receiver."""

import threading
import time

import pytest
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.serving import make_server

from simulator.testing import run_simulator, TEST_SETTINGS

ACCOUNT_SID = "AC" + "1234567890abcdef" * 2
AUTH_TOKEN = "sim-secret-token"
NUMBER = "+15005550006"
CALLER = "+14155550100"


class Receiver:
    """A tiny webhook server: scripted TwiML per path; every request's signature is validated."""

    def __init__(self, token):
        self.validator = RequestValidator(token)
        self.routes = {}
        self.hits = []
        self.lock = threading.Lock()
        app = Flask("receiver")
        app.add_url_rule("/<path:path>", "any", self._handle, methods=["GET", "POST"])
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handle(self, path):
        params = request.form if request.method == "POST" else {}
        valid = self.validator.validate(request.url, params, request.headers.get("X-Twilio-Signature", ""))
        hit = {"path": "/" + path, "method": request.method, "params": dict(request.values.items()),
               "valid": valid, "time": time.time()}
        with self.lock:
            self.hits.append(hit)
        handler = self.routes.get("/" + path, "<Response/>")
        if callable(handler):
            handler = handler(hit["params"])
        if isinstance(handler, tuple):
            body, status, ctype = (list(handler) + [None, None])[:3]
            return Response(body, status=status or 200, content_type=ctype or "text/xml")
        return Response(handler, content_type="text/xml")

    def on(self, path, twiml):
        """Serve `twiml` (str, (body, status, content_type) or callable(params)) at path."""
        self.routes[path] = twiml
        return self.url + path

    def requests_to(self, path):
        """The requests received at a path."""
        with self.lock:
            return [h for h in self.hits if h["path"] == path]

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver(AUTH_TOKEN)
    yield r
    r.close()
    assert all(h["valid"] for h in r.hits), [h for h in r.hits if not h["valid"]]


@pytest.fixture
def sim():
    personas = [
        {"address": CALLER, "name": "Caller", "kind": "human"},
        {"address": "+14155550123", "name": "Alice (billing)", "kind": "human", "answer_after": 0.05,
         "press": "1", "press_after": 0.02},
        {"address": "+14155550124", "name": "Bob declines", "kind": "human", "answer_after": 0.05,
         "press": "2", "press_after": 0.02},
        {"address": "+14155550125", "name": "Nobody", "kind": "no-answer"},
        {"address": "+14155550126", "name": "Busy", "kind": "busy"},
        {"address": "+14155550127", "name": "Broken", "kind": "unreachable"},
        {"address": "+14155550128", "name": "Voicemail", "kind": "voicemail", "answer_after": 0.05,
         "greeting_seconds": 0.1},
        {"address": "+14155550129", "name": "Fax", "kind": "fax", "answer_after": 0.05},
        {"address": "+14155550130", "name": "IVR", "kind": "ivr", "answer_after": 0.05,
         "extensions": {"123": "+14155550123"}},
        {"address": "+14155550131", "name": "Short call", "kind": "human", "answer_after": 0.05,
         "hangup_after": 0.3},
        {"address": "+14155550132", "name": "Impatient caller", "kind": "human", "hangup_on_hold_after": 0.3},
        {"address": "sip:alice@example.com", "name": "Alice SIP", "kind": "human", "answer_after": 0.05},
        {"address": "client:agent1", "name": "Agent app", "kind": "human", "answer_after": 0.05},
    ]
    with run_simulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, personas=personas,
                       settings=TEST_SETTINGS) as s:
        yield s


@pytest.fixture
def client(sim):
    c = Client(ACCOUNT_SID, AUTH_TOKEN)
    c.api.base_url = sim.url
    return c
