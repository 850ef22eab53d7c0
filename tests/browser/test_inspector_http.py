"""The Inspector over HTTP: login and its cookie, CSRF on actions, the session key, filters, the live stream."""
from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import threading
import time
from urllib.parse import urlparse

import requests

from tests.conftest import API_TOKEN

from .conftest import csrf_of, other_app, sign_in

RINGS_ON = "+14155550197"     # a recipient that never answers


def _in_flight(sim, phone, api, caller: str) -> dict:
    sim.add_persona({"address": RINGS_ON, "kind": "no-answer"})
    call = phone(caller)
    transfer = api("post", f"/api/calls/{call}/transfers",
                   json={"to": RINGS_ON, "mode": "warm", "timeout": 30}).get_json()
    sim.wait_for(lambda: api("get", f"/api/transfers/{transfer['id']}").get_json()["status"] == "ringing",
                 timeout=10, message="ringing")
    return transfer


def test_pages_and_data_need_a_session(app):
    client = app.test_client()
    page = client.get("/inspector/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/inspector/login?next=/inspector/")
    for path in ("/inspector/transfers.json", "/inspector/calls.json", "/inspector/stream",
                 "/inspector/transfers/tr_x.json"):
        answer = client.get(path)
        assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "unauthorized", path
    assert client.get("/inspector/login").status_code == 200


def test_a_wrong_token_is_refused_and_opens_no_session(app):
    client = app.test_client()
    answer = sign_in(client, "not-a-token-of-this-service")
    assert answer.status_code == 401 and "not one of this service" in answer.get_data(as_text=True)
    assert not any("label" in c for c in answer.headers.getlist("Set-Cookie"))
    assert client.get("/inspector/transfers.json").status_code == 401


def test_the_session_cookie_is_signed_httponly_lax_and_secure_over_https(app):
    answer = sign_in(app.test_client())
    assert answer.status_code == 303 and answer.headers["Location"] == "/inspector/"
    cookie = answer.headers["Set-Cookie"]
    for part in ("handoff_inspector=", "HttpOnly", "SameSite=Lax", "Path=/inspector", "Expires="):
        assert part in cookie, cookie
    assert "Secure" not in cookie                       # plain http (make run): the browser must send it back
    assert API_TOKEN not in cookie                      # the label and a fingerprint, never the token
    https = sign_in(app.test_client(), **{"X-Forwarded-Proto": "https"})
    assert "Secure" in https.headers["Set-Cookie"]      # behind Heroku's router: https
    # A tampered cookie is no session at all.
    client = app.test_client()
    client.set_cookie("handoff_inspector", cookie.split(";")[0].split("=", 1)[1][:-2] + "xx", path="/inspector")
    assert client.get("/inspector/transfers.json").status_code == 401


def test_the_page_shows_the_label_and_links_analytics(app):
    client = app.test_client()
    sign_in(client)
    page = client.get("/inspector/").get_data(as_text=True)
    assert "token-1" in page and 'href="/inspector/analytics"' in page
    assert "Local mode" in page and API_TOKEN not in page
    assert "script-src 'self'" in client.get("/inspector/").headers["Content-Security-Policy"]


def test_cancel_needs_the_csrf_token(app, sim, phone, api, wait_transfer):
    transfer = _in_flight(sim, phone, api, "+14155550182")
    client = app.test_client()
    sign_in(client)
    url = f"/inspector/transfers/{transfer['id']}/cancel"
    assert client.post(url).status_code == 403
    refused = client.post(url, headers={"X-CSRF-Token": "forged"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf_failed"
    assert api("get", f"/api/transfers/{transfer['id']}").get_json()["outcome"] is None     # nothing happened
    done = client.post(url, headers={"X-CSRF-Token": csrf_of(client)})
    assert done.status_code == 200
    assert done.get_json()["outcome"]["outcome"] == "transfer-cancelled"
    assert wait_transfer(transfer["id"])["outcome"] == "transfer-cancelled"
    again = client.post(url, headers={"X-CSRF-Token": csrf_of(client)})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_cancellable"


def test_logout_needs_the_csrf_token_and_ends_the_session(app):
    client = app.test_client()
    sign_in(client)
    assert client.post("/inspector/logout").status_code == 403
    assert client.get("/inspector/transfers.json").status_code == 200
    answer = client.post("/inspector/logout", data={"csrf_token": csrf_of(client)})
    assert answer.status_code == 303 and answer.headers["Location"] == "/inspector/login"
    assert client.get("/inspector/transfers.json").status_code == 401


def test_removing_a_token_ends_the_sessions_it_opened(app, service_env):
    client = app.test_client()
    assert sign_in(client, "second-token-abcdefgh").status_code == 303
    cookie = client.get_cookie("handoff_inspector", path="/inspector").value
    with other_app(service_env, API_TOKEN=API_TOKEN) as rotated:      # the second token was removed
        after = rotated.test_client()
        after.set_cookie("handoff_inspector", cookie, path="/inspector")
        assert after.get("/inspector/transfers.json").status_code == 401


def test_without_secret_key_local_mode_derives_one_key_for_every_process(service_env):
    with other_app(service_env, SECRET_KEY="", HANDOFF_LOCAL="1") as first, \
            other_app(service_env, SECRET_KEY="", HANDOFF_LOCAL="1") as second:
        client = first.test_client()
        assert sign_in(client).status_code == 303
        page = client.get("/inspector/").get_data(as_text=True)
        assert "derived from API_TOKEN" in page
        # Another process (gunicorn runs several) derives the same key: the session works there too.
        other = second.test_client()
        other.set_cookie("handoff_inspector", client.get_cookie("handoff_inspector", path="/inspector").value,
                         path="/inspector")
        assert other.get("/inspector/transfers.json").status_code == 200


def test_without_secret_key_outside_local_mode_the_inspector_is_off(service_env):
    with other_app(service_env, SECRET_KEY="", HANDOFF_LOCAL="0") as production:
        client = production.test_client()
        form = client.get("/inspector/login")
        assert form.status_code == 200 and "SECRET_KEY" in form.get_data(as_text=True)
        assert sign_in(client).status_code == 503
        assert client.get("/inspector/transfers.json").status_code == 401


def test_heard_is_local_mode_only(service_env, sim, phone, api):
    call = phone("+14155550183")
    sim.add_persona({"address": "+14155550198", "kind": "busy"})
    transfer = api("post", f"/api/calls/{call}/transfers", json={"to": "+14155550198", "mode": "cold"}).get_json()
    with other_app(service_env, HANDOFF_LOCAL="0") as production:
        client = production.test_client()
        sign_in(client)
        answer = client.get(f"/inspector/transfers/{transfer['id']}/heard.json").get_json()
        assert answer["available"] is False and "local mode" in answer["reason"]


def test_filters_are_checked_and_applied(app, sim, phone, api, wait_transfer):
    call = phone("+14155550184")
    sim.add_persona({"address": "+14155550199", "kind": "busy"})
    transfer = api("post", f"/api/calls/{call}/transfers", json={"to": "+14155550199", "mode": "cold"}).get_json()
    wait_transfer(transfer["id"])
    client = app.test_client()
    sign_in(client)
    bad = client.get("/inspector/transfers.json?status=sideways")
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["fields"]
    assert client.get("/inspector/transfers.json?cursor=bogus").status_code == 422
    cold = client.get("/inspector/transfers.json?mode=cold&outcome=transfer-failed-connection-error&limit=200")
    item = next(i for i in cold.get_json()["items"] if i["id"] == transfer["id"])
    assert item["outcome_words"] == "+14155550199's line was busy."
    warm = client.get("/inspector/transfers.json?mode=warm&limit=200").get_json()["items"]
    assert transfer["id"] not in {i["id"] for i in warm}
    mine = client.get("/inspector/transfers.json?recipient=%2B14155550199&limit=200").get_json()["items"]
    assert transfer["id"] in {i["id"] for i in mine}
    calls = client.get(f"/inspector/calls.json?call_sid={call}").get_json()["items"]
    assert calls[0]["sid"] == call and calls[0]["transfers"][0]["id"] == transfer["id"]


class _Stream:
    """A Server-Sent Events client for the test: frames (id, event, data) arrive on `frames` as they come."""

    def __init__(self, base: str, cookie: str, **headers: str):
        url = urlparse(base)
        self.connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        self.connection.request("GET", "/inspector/stream", headers={
            "Cookie": f"handoff_inspector={cookie}", "Accept": "text/event-stream", **headers})
        self.socket = self.connection.sock            # the response owns it from here on
        self.response = self.connection.getresponse()
        self.frames: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        frame: dict = {}
        try:
            for raw in iter(self.response.fp.readline, b""):
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if "data" in frame:
                        self.frames.put((frame.get("id"), frame.get("event"), json.loads(frame["data"])))
                    frame = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    frame[name] = value.lstrip(" ")
        except (OSError, ValueError):
            pass        # closed by the test

    def close(self) -> None:
        # A shutdown wakes the reading thread at once (a close would wait for the next keep-alive).
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.response.close()


def _frames_until(into: queue.Queue, predicate, timeout: float = 10) -> list:
    seen = []
    while True:
        item = into.get(timeout=timeout)
        seen.append(item)
        if predicate(item):
            return seen


def test_the_stream_follows_live_and_resumes_after_last_event_id(service_env, sim, phone, api, wait_transfer):
    base = service_env["PUBLIC_BASE_URL"]
    session = requests.Session()
    assert session.post(f"{base}/inspector/login", data={"token": API_TOKEN}, allow_redirects=False).status_code == 303
    cookie = session.cookies.get("handoff_inspector")
    live = _Stream(base, cookie)
    assert live.response.status == 200 and live.response.getheader("Content-Type").startswith("text/event-stream")
    try:
        call = phone("+14155550185")
        sim.add_persona({"address": "+14155550189", "kind": "busy"})
        transfer = api("post", f"/api/calls/{call}/transfers", json={"to": "+14155550189", "mode": "cold"}).get_json()
        frames = _frames_until(live.frames,
                               lambda f: f[2]["transfer_id"] == transfer["id"] and f[2]["event"] == "completed")
        mine = [f for f in frames if f[2]["transfer_id"] == transfer["id"]]
        assert mine[0][2]["event"] == "requested" and all(f[1] == "transfer" and f[0] == f[2]["id"] for f in mine)
    finally:
        live.close()
    # A reconnect with Last-Event-ID gets what came after it, from the record, in order.
    resumed = _Stream(base, cookie, **{"Last-Event-ID": mine[0][0]})
    try:
        replay = _frames_until(resumed.frames, lambda f: f[0] == mine[-1][0])
        assert [f[0] for f in replay if f[2]["transfer_id"] == transfer["id"]] == [f[0] for f in mine[1:]]
    finally:
        resumed.close()


def test_sign_ins_are_audited_by_label_never_by_token(app):
    client = app.test_client()
    sign_in(client, "wrong-token-but-long-enough")
    sign_in(client)
    entries = client.get("/inspector/audit.json?action=inspector&limit=50").get_json()["items"]
    assert any(e["action"] == "inspector-login" and e["actor"] == "token-1" for e in entries)
    assert any(e["action"] == "inspector-login-failed" and e["actor"] == "-" for e in entries)
    assert API_TOKEN not in json.dumps(entries)


def test_a_closed_hub_ends_the_stream_at_once(service_env):
    """A stopping web process closes its FeedHub: an open page's stream ends then, not at its next write."""
    with other_app(service_env) as stopping:
        client = stopping.test_client()
        sign_in(client)
        response = client.get("/inspector/stream", buffered=False)
        frames = iter(response.response)
        assert next(frames).startswith(b"retry:")
        ended = threading.Event()

        def drain():
            for _ in frames:
                pass
            ended.set()

        threading.Thread(target=drain, daemon=True).start()
        started = time.monotonic()
        stopping.extensions["feed_hub"].close()
        assert ended.wait(5) and time.monotonic() - started < 2
        response.close()
