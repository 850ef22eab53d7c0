"""The domain collector on a real Redis: the analytics totals turned into Prometheus families."""
from __future__ import annotations

import uuid

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from devtools.embedded_redis import free_port
from handoff.keys import Keys
from handoff.metrics import DomainCollector


def families(connection, keys) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DomainCollector(connection, keys))
    return {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}


def test_bins_become_cumulative_buckets_and_fields_become_labels(redis_server):
    connection = redis.Redis.from_url(redis_server.url)
    keys = Keys(f"collector-{uuid.uuid4().hex[:8]}")
    connection.hset(keys.analytics("totals"), mapping={
        # answer: 2 values in (0.5, 1], 1 in (3, 5], 1 above 600; hold: 1 value in (1, 2]
        "all=*|answer_le:1": 2, "all=*|answer_le:5": 1, "all=*|answer_le:+Inf": 1,
        "all=*|answer_n": 4, "all=*|answer_sum": "700.25",
        "all=*|hold_le:2": 1, "all=*|hold_n": 1, "all=*|hold_sum": "1.5",
        "dest=billing|answer_le:1": 2,                           # per-dimension bins are not the histogram's
        "transfers|warm|transfer-success|billing": 3, "transfers|cold|transfer-failed-timeout|+14155550100": 1,
        "attempts|dest=billing|accepted": 3, "attempts|dest=billing|no-answer": 2,
        "all=*|hangup_on_hold": 1, "requested": 6, "all=*|transfers": 4,
    })
    found = families(connection, keys)
    answer = {s.labels["le"]: s.value for s in found["handoff_time_to_answer_seconds"].samples
              if s.name.endswith("_bucket")}
    assert answer == {"1.0": 2, "2.0": 2, "5.0": 3, "+Inf": 4}
    hold = {s.labels["le"]: s.value for s in found["handoff_caller_hold_seconds"].samples if s.name.endswith("_bucket")}
    assert hold == {"1.0": 0, "2.0": 1, "5.0": 1, "+Inf": 1}
    sums = {s.name: s.value for s in found["handoff_time_to_answer_seconds"].samples}
    assert sums["handoff_time_to_answer_seconds_sum"] == 700.25
    assert sums["handoff_time_to_answer_seconds_count"] == 4
    assert {s.name: s.value for s in found["handoff_time_to_accept_seconds"].samples}[
        "handoff_time_to_accept_seconds_count"] == 0
    transfers = {tuple(sorted(s.labels.items())): s.value for s in found["handoff_transfers"].samples
                 if s.name == "handoff_transfers_total"}
    assert transfers == {
        (("destination", "billing"), ("mode", "warm"), ("outcome", "transfer-success")): 3,
        (("destination", "+14155550100"), ("mode", "cold"), ("outcome", "transfer-failed-timeout")): 1}
    attempts = {s.labels["result"]: s.value for s in found["handoff_attempts"].samples if s.name.endswith("_total")}
    assert attempts == {"accepted": 3, "no-answer": 2}
    assert found["handoff_hangups_on_hold"].samples[0].value == 1
    assert found["handoff_transfers_in_flight"].samples[0].value == 2
    assert found["handoff_redis_up"].samples[0].value == 1
    assert "handoff_scheduler_last_heartbeat_timestamp_seconds" not in found     # no sweeper ever beat


def test_redis_down_is_a_gauge_not_an_error():
    connection = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    found = families(connection, Keys("down"))
    assert found["handoff_redis_up"].samples[0].value == 0
    assert "handoff_transfers" not in found
