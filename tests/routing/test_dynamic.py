import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from handoff.destinations import AllowList
from handoff.routing import RoutingError, load_router
from handoff.routing.dynamic import SIGNATURE_HEADER, verify
from handoff.targets import TargetKind

SECRET = "test-secret-123"


class Hook:
    """A local webhook whose behaviour each test sets."""

    def __init__(self):
        self.answer = {"destination": "+14155550177"}
        self.status = 200
        self.delay = 0.0
        self.raw = None
        self.requests = []


@pytest.fixture
def hook():
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((dict(self.headers), body))
            if state.delay:
                time.sleep(state.delay)
            payload = state.raw if state.raw is not None else json.dumps(state.answer).encode()
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/oncall"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def router(hook, write):
    path = write(f"""
        recipients:
          - name: crm
            type: dynamic
            webhook: {{url: "{hook.url}", secret: {SECRET}, timeout: 0.5}}
            fallback: desk
          - name: desk
            type: number
            number: "+14155550100"
          - name: pbx
            type: sip
            sip: {{uri: "sip:<queue>@pbx.example.com"}}
    """)
    return load_router(path, AllowList.parse("+1415"))


CONTEXT = {"call_sid": "CA123", "caller": "+14155551234", "variables": {"queue": "gold"}}


def test_plan_has_dynamic_step_then_fallback(router):
    plan = router.plan("crm", variables={})
    assert plan.steps[0].dynamic == "crm" and plan.steps[0].targets == ()
    assert plan.steps[1].targets[0].address == "+14155550100"


def test_webhook_answers_a_number_and_request_is_signed(router, hook):
    target = router.resolve_dynamic("crm", context=CONTEXT)
    assert target.kind is TargetKind.NUMBER and target.address == "+14155550177" and target.recipient == "crm"
    headers, body = hook.requests[0]
    assert verify(SECRET, body, headers[SIGNATURE_HEADER])
    assert not verify("other-secret", body, headers[SIGNATURE_HEADER])
    sent = json.loads(body)
    assert sent["call_sid"] == "CA123" and sent["recipient"] == "crm" and "timestamp" in sent


def test_webhook_answers_a_configured_recipient(router, hook):
    hook.answer = {"destination": "pbx", "name": "Gold queue"}
    target = router.resolve_dynamic("crm", context=CONTEXT)
    assert target.address == "sip:gold@pbx.example.com" and target.recipient == "pbx"


def test_webhook_timeout(router, hook):
    hook.delay = 1.5
    started = time.monotonic()
    with pytest.raises(RoutingError) as err:
        router.resolve_dynamic("crm", context=CONTEXT, timeout=0.3)
    assert time.monotonic() - started < 1.2
    assert "did not answer within 0.3s" in err.value.message


def test_webhook_forbidden_number(router, hook):
    hook.answer = {"destination": "+442071838750"}
    with pytest.raises(RoutingError) as err:
        router.resolve_dynamic("crm", context=CONTEXT)
    assert "refused" in err.value.message and "TRANSFER_ALLOWED_PREFIXES" in err.value.message


@pytest.mark.parametrize("answer", [
    {"destination": "sip:x@evil.example.com"},
    {"destination": ""},
    {"nothing": 1},
    ["+14155550177"],
    {"destination": "crm"},
])
def test_webhook_nonsense(router, hook, answer):
    hook.answer = answer
    with pytest.raises(RoutingError):
        router.resolve_dynamic("crm", context=CONTEXT)


def test_webhook_not_json_or_error_status(router, hook):
    hook.raw = b"<html>"
    with pytest.raises(RoutingError, match="not JSON"):
        router.resolve_dynamic("crm", context=CONTEXT)
    hook.raw, hook.status = None, 500
    with pytest.raises(RoutingError, match="HTTP 500"):
        router.resolve_dynamic("crm", context=CONTEXT)


def test_webhook_unreachable(write):
    path = write("""
        recipients:
          - name: crm
            type: dynamic
            webhook: {url: "http://127.0.0.1:9/none", secret: abcdefgh, timeout: 0.5}
    """)
    with pytest.raises(RoutingError, match="crm"):
        load_router(path).resolve_dynamic("crm", context={})


def test_resolve_dynamic_rejects_static_name(router):
    with pytest.raises(RoutingError):
        router.resolve_dynamic("desk", context={})
