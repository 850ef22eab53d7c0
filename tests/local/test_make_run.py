"""`make run` (devtools/run_local.py) as a user meets it: a stable API token, a second instance
refused with one line, `flask routing` reading var/local.env, a Ctrl-C that stops everything in
under 3 s without a traceback, and a transfer interrupted by a restart that ends with an outcome."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest
import redis
import requests

from devtools.embedded_redis import EmbeddedRedis
from devtools.local_stack import AGENT_NUMBER, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN
from handoff.state import Outcome

from .make_run import ROOT, MakeRun, clean_env, processes_using

STOP_LIMIT = 3.0
SLOW_DESK, BACKUP_DESK = "+14155550177", "+14155550100"
CALLER = "+14155550123"
SIM_AUTH = (SIM_ACCOUNT_SID, SIM_AUTH_TOKEN)
OUTCOMES = {outcome.value for outcome in Outcome}


@pytest.fixture
def var_dir(tmp_path):
    directory = tmp_path / "var"
    yield directory
    for pid in processes_using(directory):      # a failed test leaves nothing running
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def assert_stopped_cleanly(run: MakeRun) -> None:
    seconds, left = run.interrupt()
    output = run.output()
    assert not left, f"still running after Ctrl-C: {left}\n{output}"
    assert seconds < STOP_LIMIT, f"Ctrl-C took {seconds:.2f} s\n{output}"
    assert run.process.returncode == 0, output
    assert "Traceback" not in output, output
    assert not processes_using(run.var_dir), processes_using(run.var_dir)
    assert not (run.var_dir / "local.env").exists()


def test_token_second_instance_and_routing_check(var_dir, tmp_path):
    run = MakeRun(var_dir).start(tmp_path / "first.log")
    try:
        token = run.token()
        assert (var_dir / "api-token").read_text().strip() == token
        assert stat.S_IMODE((var_dir / "api-token").stat().st_mode) == 0o600
        assert requests.get(f"{run.base_url}/api/transfers", headers={"Authorization": f"Bearer {token}"},
                            timeout=5).status_code == 200
        assert requests.get(f"{run.base_url}/api/transfers", headers={"Authorization": "Bearer not-the-token-at-all"},
                            timeout=5).status_code == 401

        # A second make run on the same state directory, and one on the same ports: one line each.
        for second, why in ((MakeRun(var_dir, port=run.port, sim_port=run.sim_port, redis_port=run.redis_port),
                             "already running"),
                            (MakeRun(tmp_path / "other-var", port=run.port, sim_port=run.sim_port,
                                     redis_port=run.redis_port), "in use")):
            process = second.launch(tmp_path / f"second-{why.replace(' ', '-')}.log")
            assert process.wait(timeout=30) != 0
            lines = second.output().strip().splitlines()
            assert len(lines) == 1 and why in lines[0] and lines[0].startswith("make run: "), lines
        assert requests.get(f"{run.base_url}/api/transfers", headers={"Authorization": f"Bearer {token}"},
                            timeout=5).status_code == 200, "the first instance keeps serving"
        assert "Traceback" not in run.output()

        # `flask routing check` from a shell with nothing but the state directory: var/local.env.
        check = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "routing", "check"],
                               cwd=ROOT, env=clean_env(var_dir), capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stderr
        assert "recipients.yaml: OK" in check.stdout
        assert f"{var_dir / 'local.env'}" in check.stderr
    finally:
        if run.process.poll() is None:
            assert_stopped_cleanly(run)
    assert (var_dir / "last-run.env").exists()
    # Redis stopped last: every RQ worker deregistered itself first (no stale registration).
    redis_server = EmbeddedRedis(var_dir / f"redis-{run.redis_port}").start()
    try:
        client = redis.Redis.from_url(redis_server.url)
        assert client.scard("rq:workers") == 0, client.smembers("rq:workers")
    finally:
        redis_server.stop()


def test_a_transfer_interrupted_by_a_restart_ends_with_an_outcome(var_dir, tmp_path):
    """Ctrl-C while a warm transfer rings; the next make run's recovery sweep fires its deadline, and
    the restarted simulator no longer knows the calls (404): the caller's call is over, so the
    transfer is cancelled instead of ringing its fallback for nobody. The token is the same."""
    run = MakeRun(var_dir).start(tmp_path / "first.log")
    token = run.token()
    auth = {"Authorization": f"Bearer {token}"}
    try:
        sim = requests.Session()
        sim.auth = SIM_AUTH
        sim.post(f"{run.sim_url}/sim/personas", timeout=5, json={
            "address": SLOW_DESK, "name": "Slow desk", "kind": "human", "answer_after": 60}).raise_for_status()
        call = sim.post(f"{run.sim_url}/sim/calls", timeout=5, json={"from": CALLER, "to": AGENT_NUMBER}).json()["sid"]
        wait_for(lambda: sim.get(f"{run.sim_url}/sim/calls/{call}", timeout=5).json()["activity"] == "with-agent",
                 "the caller is with the agent")
        started = requests.post(f"{run.base_url}/api/calls/{call}/transfers", headers=auth, timeout=5,
                                json={"to": "slow_desk", "mode": "warm"})
        assert started.status_code == 202, started.text
        transfer_id = started.json()["id"]
        wait_for(lambda: transfer(run, auth, transfer_id)["status"] == "ringing", "the slow desk rings")
    except BaseException:
        run.kill()
        raise
    assert_stopped_cleanly(run)

    again = MakeRun(var_dir, port=run.port, sim_port=run.sim_port, redis_port=run.redis_port)
    again.start(tmp_path / "second.log")
    try:
        assert again.token() == token, "the API token is the same on every run"
        final = wait_for(lambda: (lambda t: t if t["outcome"] and t["status"] == "completed" else None)(
            transfer(again, auth, transfer_id)), "the transfer's outcome", timeout=40)
        assert final["outcome"] in OUTCOMES
        assert final["outcome"] == "transfer-cancelled", final
        dialed = [c["to"] for c in requests.get(f"{again.sim_url}/sim/calls", auth=SIM_AUTH, timeout=5).json()]
        assert BACKUP_DESK not in dialed, "nobody is rung for a caller who has gone"
    except BaseException:
        again.kill()
        raise
    assert_stopped_cleanly(again)


def transfer(run: MakeRun, auth: dict, transfer_id: str) -> dict:
    response = requests.get(f"{run.base_url}/api/transfers/{transfer_id}", headers=auth, timeout=5)
    response.raise_for_status()
    return response.json()


def wait_for(condition, what: str, timeout: float = 15):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")
