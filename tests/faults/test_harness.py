"""The harness itself: real processes start, serve a transfer, stop, restart and are cleaned up."""
import signal
import socket

import requests

from .helpers import BILLING, SUCCESS, events, settle
from .stack import Stack, group_pids


def _cold_transfer_succeeds(stack, caller):
    stack.sim.add_persona({"address": BILLING, "kind": "human", "answer_after": 0.1})
    call = stack.place_call(caller)
    transfer = stack.transfer(call, {"to": "billing", "mode": "cold"})
    final = settle(stack, call, transfer["id"], timeout=10, allowed={SUCCESS})
    assert events(final)[0] == "requested"
    return final


def test_cold_transfer_through_the_real_processes(stack):
    _cold_transfer_succeeds(stack, "+14155550301")
    # Both Procfile processes served it, and their logs are captured.
    web_log = stack.logs["web"].read_text()
    assert "POST /voice/incoming" in web_log and "/api/calls/" in web_log
    assert stack.web.starts == 1 and len(stack.web.pids()) == 3          # gunicorn master + WEB_CONCURRENCY
    assert len(stack.worker_pids()) >= 1 + stack.worker_processes     # the leader and its RQ workers


def test_redis_restart_keeps_data_on_the_same_port(stack):
    final = _cold_transfer_succeeds(stack, "+14155550302")
    client = stack.redis_client()
    client.set(f"{stack.key_prefix}:probe", "kept")
    port, pid = stack.redis.port, stack.redis.pid
    stack.restart_redis()
    assert stack.redis.port == port and stack.redis.pid != pid
    assert client.get(f"{stack.key_prefix}:probe") == b"kept"
    # The service reads the transfer back from the AOF-restored Redis.
    again = stack.wait_transfer(final["id"], timeout=10)
    # (A late leg callback may still add its fact after `final` was read: nothing is lost or moved.)
    assert again["outcome"] == final["outcome"] and events(again)[:len(events(final))] == events(final)
    assert events(again).count("completed") == 1


def test_killed_workers_are_all_gone_and_come_back(stack):
    old = set(stack.worker_pids())
    assert len(old) >= 1 + stack.worker_processes
    stack.kill_workers(signal.SIGKILL)
    assert not stack.worker.alive and not (set(group_pids(stack.worker.pid)) & old)
    stack.start_workers()
    assert stack.worker.alive and not (set(stack.worker_pids()) & old)
    _cold_transfer_succeeds(stack, "+14155550303")


def test_restart_all_serves_again_on_the_same_url(stack):
    web_pid, worker_pid, redis_pid = stack.web.pid, stack.worker.pid, stack.redis.pid
    stack.restart_all()
    assert (stack.web.pid, stack.worker.pid, stack.redis.pid) != (web_pid, worker_pid, redis_pid)
    assert requests.get(f"{stack.base_url}/healthz", timeout=5).json()["redis"] == "ok"
    _cold_transfer_succeeds(stack, "+14155550304")


def test_close_leaves_no_process_and_frees_the_port(sim, tmp_path):
    other = Stack(sim, tmp_path / "other", configure_number=False).start()
    groups = [other.web.pid, other.worker.pid]
    pids = other.web.pids() + other.worker.pids() + [other.redis.pid]
    other.close()
    assert not any(group_pids(g) for g in groups)
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                assert f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"), f"pid {pid} still running"
        except FileNotFoundError:
            pass
    for port in (other.port, other.redis.port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
