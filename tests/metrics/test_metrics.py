"""/metrics as Prometheus reads it, from the service run as the Procfile runs it: transfers through
the simulator, then scrapes parsed with prometheus-client's own parser.

The domain figures must equal what the transfers did (their outcome events say it); the
in-process ones must add up across every gunicorn and RQ worker process, whichever answers."""
from __future__ import annotations

import math
import os
import re
import signal
from collections import Counter
from pathlib import Path

import pytest
import requests
from flask import Flask
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from blueprints import transfer_callbacks, voice
from handoff.events import EventLog
from handoff.keys import Keys

# Each transfer's recipient is a number of its own, so its destination label is known in advance.
TRANSFERS = [
    # (caller, recipient, mode, recipient persona)
    ("+14155550301", "+14155550311", "cold", {"kind": "human", "answer_after": 0.1, "hangup_after": 0.5}),
    ("+14155550302", "+14155550312", "warm", {"kind": "human", "answer_after": 0.1, "press": "1",
                                              "press_after": 0.05}),
    ("+14155550303", "+14155550313", "warm", {"kind": "busy"}),
    ("+14155550304", "+14155550314", "cold", {"kind": "busy"}),
]
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>[^ ?"]+)[^"]*" (?P<status>\d{3}) ')


def scrape(stack, **headers) -> dict:
    """GET /metrics from the stack's gunicorn; {family name: family}."""
    response = requests.get(f"{stack.base_url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def values(families: dict, family: str, sample: str | None = None, **labels) -> list[float]:
    """Values of a family's samples (named `sample`, default the family's own name) matching `labels`."""
    wanted = sample or family
    return [s.value for s in families[family].samples
            if s.name == wanted and all(s.labels.get(k) == v for k, v in labels.items())]


@pytest.fixture(scope="module")
def finished(stack):
    """Run every transfer of TRANSFERS at once; {transfer id: (api body, its outcome report)}."""
    for _, recipient, _, persona in TRANSFERS:
        stack.sim.add_persona({"address": recipient, **persona})
    calls = [(stack.place_call(caller), recipient, mode) for caller, recipient, mode, _ in TRANSFERS]
    ids = [stack.transfer(call, {"to": recipient, "mode": mode})["id"] for call, recipient, mode in calls]
    log = EventLog(stack.redis_client(), Keys(stack.key_prefix))
    done = {}
    for transfer_id in ids:
        body = stack.wait_transfer(transfer_id, lambda t: t["outcome"])     # a bridged success stays 'bridged'
        # The outcome's report (mode, destination, attempts, durations): the 'outcome' event, which
        # the 'completed' event repeats at the very end.
        reports = [e.detail for e in log.history(transfer_id) if e.type in ("outcome", "completed")]
        assert reports, [e.type for e in log.history(transfer_id)]
        done[transfer_id] = (body, reports[0])
    return done


def test_transfer_counters_equal_the_transfers_run(stack, finished):
    expected = Counter((detail["mode"], body["outcome"], detail["destination"])
                       for body, detail in finished.values())
    assert {outcome for _, outcome, _ in expected} >= {"transfer-success"}
    assert len({outcome for _, outcome, _ in expected}) >= 2, expected     # a failure is counted too
    assert {destination for _, _, destination in expected} == {recipient for _, recipient, _, _ in TRANSFERS}
    families = scrape(stack)
    counted = {(s.labels["mode"], s.labels["outcome"], s.labels["destination"]): s.value
               for s in families["handoff_transfers"].samples if s.name == "handoff_transfers_total"}
    assert counted == expected
    attempts = sum(detail["attempts"] for _, detail in finished.values())
    assert sum(values(families, "handoff_attempts", "handoff_attempts_total")) == attempts
    for recipient in (r for _, r, _, _ in TRANSFERS):
        assert sum(values(families, "handoff_attempts", "handoff_attempts_total", destination=recipient)) >= 1


@pytest.mark.parametrize("family, seconds", [("handoff_time_to_answer_seconds", "answer_seconds"),
                                             ("handoff_time_to_accept_seconds", "accept_seconds"),
                                             ("handoff_caller_hold_seconds", "hold_seconds")])
def test_histograms_count_what_the_transfers_measured(stack, finished, family, seconds):
    measured = [detail[seconds] for _, detail in finished.values() if detail.get(seconds) is not None]
    if seconds != "hold_seconds":
        assert measured, "the successful transfers were answered"
    families = scrape(stack)
    assert families[family].type == "histogram"
    assert values(families, family, f"{family}_count") == [len(measured)]
    assert values(families, family, f"{family}_sum")[0] == pytest.approx(sum(measured), abs=0.01)
    buckets = [(float(s.labels["le"]), s.value) for s in families[family].samples if s.name == f"{family}_bucket"]
    assert buckets and buckets[-1] == (math.inf, len(measured))
    assert [b for b, _ in buckets] == sorted(b for b, _ in buckets)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)        # cumulative, as Prometheus reads them
    for bound, count in buckets:
        if all(abs(value - bound) > 0.002 for value in measured):        # (a value on a bound is rounded)
            assert count == sum(1 for value in measured if value <= bound), (bound, buckets, measured)


def test_webhook_latency_counts_every_webhook_any_gunicorn_worker_answered(stack, finished):
    """Every /voice request in gunicorn's access log, by route and status, is in the histogram: the
    two web workers' observations are summed whichever of them answers the scrape."""
    router = Flask("routes")
    for blueprint in (voice.bp, transfer_callbacks.bp):
        router.register_blueprint(blueprint)
    adapter = router.url_map.bind("localhost")

    def logged() -> Counter:
        served = Counter()
        for line in stack.logs["web"].read_text(errors="replace").splitlines():
            match = ACCESS_LINE.search(line)
            if match and match["path"].startswith("/voice/"):
                endpoint, _ = adapter.match(match["path"], method=match["method"])
                served[(endpoint, match["status"])] += 1
        return served

    def observed() -> Counter:
        families = scrape(stack)
        return Counter({(s.labels["route"], s.labels["status"]): s.value
                        for s in families["handoff_webhook_duration_seconds"].samples
                        if s.name == "handoff_webhook_duration_seconds_count"})

    stack.sim.wait_for(lambda: observed() == logged() and observed(), timeout=10,
                       message="webhook histogram == gunicorn's access log")
    routes = {route for route, _ in observed()}
    assert "voice.incoming" in routes
    assert any(route.startswith("transfer_callbacks.") for route in routes), routes


def test_twilio_calls_and_jobs_are_counted_from_the_worker_processes(stack, finished):
    """The gateway's REST calls happen in the RQ worker processes: their files, summed, equal every
    REST request the simulator received, and at least one worker process (not the pool) wrote some."""
    def rest_requests() -> int:
        return sum(1 for r in stack.sim.requests() if "/2010-04-01/" in r["path"])

    def scraped() -> float:
        return sum(values(scrape(stack), "handoff_twilio_requests", "handoff_twilio_requests_total"))

    stack.sim.wait_for(lambda: scraped() == rest_requests() > 0, timeout=10,
                       message="Twilio REST tries counted == REST requests the simulator received")
    families = scrape(stack)
    assert sum(values(families, "handoff_twilio_request_duration_seconds",
                      "handoff_twilio_request_duration_seconds_count")) == rest_requests()
    assert values(families, "handoff_twilio_requests", "handoff_twilio_requests_total", operation="create_leg")
    assert sum(values(families, "handoff_job_duration_seconds", "handoff_job_duration_seconds_count",
                      job="advance", outcome="ok")) >= len(finished)

    pool = stack.worker.popen.pid
    rq_processes = {pid for pid in stack.worker_pids() if pid != pool}
    writers = set()
    for path in Path(stack.metrics_dir).glob("*.db"):
        pid = int(path.stem.rpartition("_")[2])
        for metric in MultiProcessCollector.merge([str(path)]):
            if metric.name == "handoff_twilio_requests" and any(s.value > 0 for s in metric.samples):
                writers.add(pid)
    assert writers & rq_processes, (writers, rq_processes)


def test_queue_depth_deadlines_and_the_schedulers_heartbeat(stack, finished):
    families = scrape(stack)
    queue = stack.key_prefix + "-transfers"
    for state in ("queued", "started", "failed"):
        assert len(values(families, "handoff_queue_jobs", queue=queue, state=state)) == 1, state
    assert values(families, "handoff_redis_up") == [1]
    assert values(families, "handoff_schedulers_alive")[0] >= 1
    heartbeat = values(families, "handoff_scheduler_last_heartbeat_timestamp_seconds")[0]
    assert values(families, "handoff_scheduler_heartbeat_age_seconds")[0] < 10
    assert heartbeat > 0
    assert values(families, "handoff_deadlines_overdue") == [0]
    assert len(values(families, "handoff_deadlines_waiting")) == 1


def test_a_dead_gunicorn_worker_takes_nothing_away(stack, finished):
    """gunicorn replaces a killed worker; what the dead one counted stays in the scrape."""
    def webhooks(families) -> float:
        return sum(values(families, "handoff_webhook_duration_seconds", "handoff_webhook_duration_seconds_count"))

    before = webhooks(scrape(stack))
    master = stack.web.popen.pid
    children = [pid for pid in stack.web.pids() if pid != master]
    assert len(children) == 2, children
    os.kill(children[0], signal.SIGKILL)
    stack.sim.wait_for(lambda: len([p for p in stack.web.pids() if p not in (master, children[0])]) == 2,
                       timeout=20, message="gunicorn replaced its worker")
    stack.sim.wait_for(lambda: webhooks(scrape(stack)) >= before, timeout=10, message="counts kept")
    assert webhooks(scrape(stack)) >= before > 0


def test_a_previous_runs_files_are_removed_at_start(stack):
    assert not stack.stale_file.exists()
    assert any(stack.metrics_dir.glob("*.db"))
