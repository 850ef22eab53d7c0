"""Upgrading across the hash-tagged key layout: keys the previous release wrote under its names
(`<prefix>:transfer:<id>`, `<prefix>:call:<sid>`...) are renamed by handoff/migrations.py, so a transfer in
flight during the upgrade still reaches its outcome and its caller returns to the agent."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from rq import Queue

from devtools.embedded_redis import free_port
from handoff.jobs import JobQueue
from handoff.keys import Keys
from handoff.migrations import migrate_key_layout
from handoff.store import Store
from handoff.transfer.recovery import Sweeper
from tests.apps import api_caller, built_app, outcome_waiter, phone_for, served, wait_until
from tests.conftest import API_TOKEN, ROOT
from tests.service.helpers import back_with_agent

AGENT_NUMBER = "+15005550026"    # this module's service's own number (the simulator routes it here)
WARM = "+14155550150"            # warm_desk in tests/fixtures/recipients.yaml
TRANSFER_SUFFIXES = {"": "transfer", "events": "events", "seen": "seen", "legs": "legs"}
CALL_SUFFIXES = {"": "call", "transfers": "call_transfers", "active": "call_active", "variables": "call_variables"}


def old_names(keys: Keys, transfer_id: str | None = None, call_sid: str | None = None) -> dict[str, str]:
    """{the previous release's name: today's name} for a transfer's and a call's keys."""
    names = {}
    for kind, entity, suffixes in (("transfer", transfer_id, TRANSFER_SUFFIXES), ("call", call_sid, CALL_SUFFIXES)):
        if entity is not None:
            for suffix, builder in suffixes.items():
                old = f"{keys.prefix}:{kind}:{entity}" + (f":{suffix}" if suffix else "")
                names[old] = getattr(keys, builder)(entity)
    return names


def write_old_layout(r: redis.Redis, keys: Keys, transfer_id: str, call_sid: str) -> dict[str, int]:
    """A transfer and its call as the previous release stored them, each key with its own TTL; {key: ttl}."""
    p = keys.prefix
    r.hset(f"{p}:transfer:{transfer_id}", mapping={"status": "dialing", "call_sid": call_sid})
    r.xadd(f"{p}:transfer:{transfer_id}:events", {"e": '{"event": "requested"}'})
    r.sadd(f"{p}:transfer:{transfer_id}:seen", "CAleg:ringing")
    r.hset(f"{p}:transfer:{transfer_id}:legs", "CAleg", "1:ringing")
    r.hset(f"{p}:call:{call_sid}", mapping={"from": "+14155550100", "status": "in-progress"})
    r.rpush(f"{p}:call:{call_sid}:transfers", transfer_id)
    r.set(f"{p}:call:{call_sid}:active", transfer_id)
    r.hset(f"{p}:call:{call_sid}:variables", "intent", "billing")
    ttls = {}
    for i, old in enumerate(old_names(keys, transfer_id, call_sid)):
        ttls[old] = 1000 + 100 * i
        r.expire(old, ttls[old])
    return ttls


@pytest.fixture
def r(redis_server):
    return redis.Redis.from_url(redis_server.url)


@pytest.fixture
def keys():
    return Keys(f"mig-{uuid.uuid4().hex[:8]}")


def test_old_keys_are_renamed_with_their_ttl_and_a_second_run_does_nothing(r, keys):
    ttls = write_old_layout(r, keys, "tr_old1", "CAold1")
    shared = {keys.deadlines(): "tr_old1", keys.transfers_index(): "tr_old1"}
    for key, member in shared.items():
        r.zadd(key, {member: 1})
    dumps = {old: r.dump(old) for old in ttls}

    counts = migrate_key_layout(r, keys)
    assert counts == {"renamed": 8, "conflicts": 0, "unknown": 0, "complete": True}
    for old, new in old_names(keys, "tr_old1", "CAold1").items():
        assert not r.exists(old), old
        assert r.dump(new) == dumps[old], new                     # same type, same contents
        assert ttls[old] - 5 <= r.ttl(new) <= ttls[old], (new, r.ttl(new))
    for key, member in shared.items():                          # shared keys keep their names
        assert r.zscore(key, member) == 1

    before = {key: r.dump(key) for key in r.scan_iter(match=f"{keys.prefix}:*")}
    assert migrate_key_layout(r, keys) == {"renamed": 0, "conflicts": 0, "unknown": 0, "complete": True}
    assert {key: r.dump(key) for key in r.scan_iter(match=f"{keys.prefix}:*")} == before


def test_a_key_of_the_new_layout_is_never_overwritten(r, keys, caplog):
    r.hset(f"{keys.prefix}:transfer:tr_both", "status", "old-release")
    r.xadd(f"{keys.prefix}:transfer:tr_both:events", {"e": "{}"})
    r.hset(keys.transfer("tr_both"), "status", "new-release")

    with caplog.at_level("WARNING", logger="handoff.migrations"):
        first = migrate_key_layout(r, keys)
        second = migrate_key_layout(r, keys)
    assert first == {"renamed": 1, "conflicts": 1, "unknown": 0, "complete": True}
    assert second == {"renamed": 0, "conflicts": 1, "unknown": 0, "complete": True}
    assert r.hget(keys.transfer("tr_both"), "status") == b"new-release"
    assert r.hget(f"{keys.prefix}:transfer:tr_both", "status") == b"old-release"   # left for an operator
    assert r.xlen(keys.events("tr_both")) == 1
    warnings = [rec for rec in caplog.records if rec.name == "handoff.migrations" and rec.levelname == "WARNING"]
    assert len(warnings) == 1 and f"{keys.prefix}:transfer:tr_both" in warnings[0].getMessage()


def test_only_this_prefix_is_touched_even_with_glob_characters_in_it(r):
    base = f"mig-{uuid.uuid4().hex[:8]}"
    mine, other = Keys(base + "*"), Keys(base + "x")
    r.set(f"{other.prefix}:call:CAother:active", "tr_x")
    r.set(f"{mine.prefix}:call:CAmine:active", "tr_y")
    r.set(f"{mine.prefix}:transfer:tr_y:something-else", "?")   # not a name of ours: left alone, counted
    assert migrate_key_layout(r, mine) == {"renamed": 1, "conflicts": 0, "unknown": 1, "complete": True}
    assert r.get(mine.call_active("CAmine")) == b"tr_y"
    assert r.get(f"{other.prefix}:call:CAother:active") == b"tr_x"


def test_work_per_call_is_bounded(r, keys):
    for i in range(50):
        r.set(f"{keys.prefix}:call:CA{i:04d}:active", f"tr_{i}")
        r.hset(f"{keys.prefix}:call:CA{i:04d}", "status", "in-progress")
    first = migrate_key_layout(r, keys, limit=10, count=10)
    assert not first["complete"] and 10 <= first["renamed"] < 100, first
    rest = migrate_key_layout(r, keys, limit=None)
    assert rest["complete"] and first["renamed"] + rest["renamed"] == 100


def test_the_sweeper_migrates_before_its_first_claim(r, keys):
    write_old_layout(r, keys, "tr_sw", "CAsw")
    r.zadd(keys.deadlines(), {"tr_sw": 1})
    sweeper = Sweeper(Store(r, keys=keys), JobQueue(Queue(keys.queue_name(), connection=r)), name="migration-test")
    assert sweeper.sweep_once() == 1
    assert all(r.exists(new) for new in old_names(keys, "tr_sw", "CAsw").values())
    assert not any(r.exists(old) for old in old_names(keys, "tr_sw", "CAsw"))


def test_the_cli_prints_the_counts(service_env, r):
    prefix = f"mig-{uuid.uuid4().hex[:8]}"
    write_old_layout(r, Keys(prefix), "tr_cli", "CAcli")
    with built_app(service_env, REDIS_KEY_PREFIX=prefix) as flask_app:
        result = flask_app.test_cli_runner().invoke(args=["keys", "migrate"])
    assert result.exit_code == 0, result.output
    assert "renamed: 8" in result.output and "conflicts: 0" in result.output


# -- end to end: an upgrade with a transfer in flight -------------------------------------------------


@pytest.fixture(scope="module")
def upgrade(service_env, sim):
    """A service with its own prefix and number, whose worker processes the test starts and stops."""
    port = free_port()
    env = {**service_env, "REDIS_KEY_PREFIX": f"mig-{uuid.uuid4().hex[:8]}", "PORT": str(port),
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "WORKER_PROCESSES": "1"}
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"handoff-worker-{env['REDIS_KEY_PREFIX']}.log"

    @contextlib.contextmanager
    def worker():
        with open(log_path, "a") as log:
            process = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env={**os.environ, **env},
                                       stdout=log, stderr=log)
            try:
                yield process
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    with built_app(service_env, **{k: v for k, v in env.items() if service_env.get(k) != v}) as flask_app, \
            served(flask_app, port) as base_url:
        api = api_caller(flask_app, API_TOKEN)
        yield {"api": api, "phone": phone_for(sim, base_url, AGENT_NUMBER), "worker": worker,
               "redis": redis.Redis.from_url(env["REDIS_URL"]), "keys": Keys(env["REDIS_KEY_PREFIX"]),
               "outcome": outcome_waiter(api, sim, timeout=40)}


def test_a_transfer_in_flight_during_the_upgrade_still_returns_its_caller(upgrade, sim):
    api, r, keys = upgrade["api"], upgrade["redis"], upgrade["keys"]
    sim.add_persona({"address": WARM, "kind": "no-answer"})
    # The recipient's callbacks are lost, so only the transfer's deadline can end it: nothing races the rename.
    sim.add_fault(target="webhook", action="drop", call_to=WARM)
    try:
        with upgrade["worker"]():                                      # the previous release, mid-transfer
            caller = upgrade["phone"]()
            answer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk"})
            assert answer.status_code == 202, answer.get_json()
            transfer_id = answer.get_json()["id"]
            wait_until(lambda: "leg-dialed" in [e["event"] for e in
                                                api("get", f"/api/transfers/{transfer_id}").get_json()["timeline"]],
                       timeout=15, message="recipient dialed")
            sim.wait_for(lambda: sim.call(caller)["activity"] != "with-agent", timeout=5, message="caller on hold")
        # What the previous release left in Redis: the same data under its names.
        for old, new in old_names(keys, transfer_id, caller).items():
            if r.exists(new):
                r.rename(new, old)
        assert api("get", f"/api/transfers/{transfer_id}").status_code == 404   # invisible to the new code
        assert sim.call(caller)["activity"] != "with-agent"                       # the caller still on hold

        with upgrade["worker"]():                                      # the new release's worker
            done = upgrade["outcome"](transfer_id)
            assert done["outcome"] == "transfer-failed-timeout", done
            back_with_agent(sim, caller, "transfer-failed-timeout")
    finally:
        sim.clear_faults()
