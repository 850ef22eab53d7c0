"""One delivery try against a real local HTTP server: what each answer comes to."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from handoff.event_webhooks import Answer, backoff, post
from handoff.webhook_signature import verify

from .receiver import _Quiet

HEADERS = {"Content-Type": "application/json", "Handoff-Signature": "t=1,v1=00"}


@pytest.fixture(scope="module")
def server():
    """Answers by path: /status/<n>, /redirect-here, /redirect-away, /loop, /slow (never answers in time)."""
    release = threading.Event()
    seen = []

    @Request.application
    def app(request):
        seen.append((request.path, request.method, request.get_data()))
        path = request.path
        if path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            headers = {"Retry-After": "42"} if status in (429, 503) else {}
            return Response("why: details", status=status, headers=headers)
        if path == "/redirect-here":
            return Response("", status=307, headers={"Location": "/status/200"})
        if path == "/redirect-away":
            return Response("", status=308, headers={"Location": "http://elsewhere.invalid/hook"})
        if path == "/loop":
            return Response("", status=307, headers={"Location": "/loop"})
        if path == "/slow":
            release.wait(5)
            return Response("late")
        return Response("", status=404)

    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.seen, httpd.base = seen, f"http://127.0.0.1:{httpd.server_port}"
    yield httpd
    release.set()
    httpd.shutdown()


@pytest.mark.parametrize("status,verdict", [
    (200, "delivered"), (202, "delivered"), (204, "delivered"),
    (410, "gone"),
    (400, "give-up"), (401, "give-up"), (404, "give-up"), (422, "give-up"),
    (408, "retry"), (409, "retry"), (425, "retry"), (429, "retry"),
    (500, "retry"), (502, "retry"), (503, "retry"),
])
def test_each_status_comes_to_its_verdict(server, status, verdict):
    answer = post(f"{server.base}/status/{status}", b"{}", HEADERS)
    assert answer.verdict == verdict and answer.status == status
    if verdict != "delivered":
        assert answer.error.startswith(f"HTTP {status}") and "why: details" in answer.error


def test_retry_after_is_honoured_within_the_cap(server):
    answer = post(f"{server.base}/status/429", b"{}", HEADERS)
    assert answer.retry_after == 42
    assert backoff(1, retry_after=answer.retry_after) == 42
    assert backoff(1, retry_after=10_000) == 600


def test_backoff_doubles_with_jitter_up_to_ten_minutes():
    for tries, base in ((1, 1), (2, 2), (3, 4), (6, 32)):
        assert 0.75 * base <= backoff(tries) <= 1.25 * base
    assert backoff(30) <= 600


def test_redirects_are_followed_on_the_same_host_only(server):
    assert post(f"{server.base}/redirect-here", b'{"a":1}', HEADERS) == Answer("delivered", 200)
    assert server.seen[-1] == ("/status/200", "POST", b'{"a":1}')        # the same POST, body included
    away = post(f"{server.base}/redirect-away", b"{}", HEADERS)
    assert away.verdict == "give-up" and "elsewhere.invalid" in away.error
    assert post(f"{server.base}/loop", b"{}", HEADERS).verdict == "give-up"


def test_a_timeout_or_a_closed_port_is_retried(server):
    slow = post(f"{server.base}/slow", b"{}", HEADERS, timeout=0.3)
    assert slow.verdict == "retry" and "no answer within" in slow.error
    closed = post("http://127.0.0.1:9/hook", b"{}", HEADERS, timeout=1)
    assert closed.verdict == "retry" and closed.status is None


def test_the_signature_helper_and_the_sender_agree(redis_server):
    import redis

    from handoff.event_webhooks import EventWebhooks
    from handoff.keys import Keys

    webhooks = EventWebhooks(redis.Redis.from_url(redis_server.url), Keys("sign"), jobs=None,
                             url="http://127.0.0.1:9/", secret="s" * 16, max_age=60)
    headers = webhooks.headers("1-0", b'{"x":1}', 3, "completed")
    assert verify("s" * 16, b'{"x":1}', headers["Handoff-Signature"])
    assert headers["Handoff-Delivery-Attempt"] == "3" and headers["Handoff-Event-Type"] == "completed"
