"""A text is retried only when Twilio cannot have taken it (429, no connection): never texted twice, and a
failure that outlasts the retries gives its claim back so the text can be sent later."""
from __future__ import annotations

import socket
import threading

import pytest
from rq.registry import StartedJobRegistry

from handoff.gateway import GatewayError, RetryPolicy, TwilioGateway
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN

from .conftest import events_of, messages_to


@pytest.fixture
def faults(sim):
    yield sim
    sim.clear_faults()


def _finished_transfer(sim, phone, api, wait_transfer, caller: str) -> str:
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    call = phone(caller)
    transfer = api("post", f"/api/calls/{call}/transfers", json={"to": "billing"}).get_json()
    wait_transfer(transfer["id"])
    return transfer["id"]


def _send(queue, transfer_id: str, body: str = "Your case is 42.") -> None:
    queue.enqueue_call("workers.jobs.send_text", args=(transfer_id, "note", None, body))


def test_429s_are_retried_and_the_text_sent_once(faults, phone, api, queue, wait_transfer):
    caller = "+14155550951"
    transfer_id = _finished_transfer(faults, phone, api, wait_transfer, caller)
    faults.add_fault(target="rest", method="post", path_contains="/Messages.json", status=429, times=2,
                     call_to=caller)
    _send(queue, transfer_id)
    sent = faults.wait_for(lambda: events_of(api, transfer_id, "text-sent"), timeout=15, message="text sent")
    assert len(sent) == 1
    assert [("fault" in r) for r in _posts(faults, caller)] == [True, True, False]
    assert not events_of(api, transfer_id, "text-failed")


def test_a_5xx_is_not_retried_and_the_text_not_sent_again(faults, phone, api, queue, wait_transfer):
    # Twilio may have taken the message before failing: trying again could text the caller twice.
    caller = "+14155550952"
    transfer_id = _finished_transfer(faults, phone, api, wait_transfer, caller)
    faults.add_fault(target="rest", method="post", path_contains="/Messages.json", status=503, times=1,
                     call_to=caller)
    _send(queue, transfer_id)
    failed = faults.wait_for(lambda: events_of(api, transfer_id, "text-failed"), timeout=15, message="failed")
    assert not failed[0].get("transient")
    _send(queue, transfer_id)                    # enqueued again: the claim is kept, nothing is sent
    faults.wait_for(lambda: queue.count == 0 and StartedJobRegistry(queue=queue).count == 0, timeout=10,
                    message="jobs run")
    assert len(_posts(faults, caller)) == 1
    assert not events_of(api, transfer_id, "text-sent")


def test_429s_past_the_budget_give_the_claim_back(faults, phone, api, queue, wait_transfer):
    caller = "+14155550953"
    transfer_id = _finished_transfer(faults, phone, api, wait_transfer, caller)
    faults.add_fault(target="rest", method="post", path_contains="/Messages.json", status=429, times=20,
                     call_to=caller)
    _send(queue, transfer_id)
    failed = faults.wait_for(lambda: events_of(api, transfer_id, "text-failed"), timeout=20, message="failed")
    assert failed[0]["transient"] is True and failed[0]["code"] == 20429
    assert len(_posts(faults, caller)) == RetryPolicy().tries
    faults.clear_faults()
    _send(queue, transfer_id)                    # enqueued again: the text goes this time, once
    sent = faults.wait_for(lambda: events_of(api, transfer_id, "text-sent"), timeout=15, message="text sent")
    assert len(sent) == 1 and len(messages_to(faults, caller)) == RetryPolicy().tries + 1


def _posts(sim, number: str) -> list[dict]:
    return [r for r in sim.requests() if r["method"] == "POST" and r["path"].endswith("/Messages.json")
            and r["params"].get("To") == number]


class _Silent:
    """A server that accepts connections and never answers: a read timeout after the request was sent."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self):
        while True:
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def _gateway(api_base: str, slept: list) -> TwilioGateway:
    return TwilioGateway(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, api_base=api_base, timeout=0.5,
                         sleep=slept.append)


def test_a_read_timeout_is_not_retried():
    server, slept = _Silent(), []
    try:
        with pytest.raises(GatewayError) as info:
            _gateway(server.url, slept).send_message(to="+14155550954", from_="+15005550006", body="hi")
        assert not info.value.transient and slept == [] and len(server.accepted) == 1
    finally:
        server.close()


def test_a_refused_connection_is_retried_then_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"       # bound, never listening: refused
        slept: list = []
        with pytest.raises(GatewayError) as info:
            _gateway(closed, slept).send_message(to="+14155550955", from_="+15005550006", body="hi")
    assert info.value.transient and len(slept) == RetryPolicy().tries - 1
