"""One worker process runs its jobs in lanes (WORKER_THREADS): jobs waiting on a slow Twilio wait side by
side, not one behind the other; a stop lets the busy lanes finish and strands nothing; a job's timeout
still ends it."""
from __future__ import annotations

import re
import signal
import time

import pytest
from rq import Queue, Worker
from rq.job import Job, JobStatus

from handoff.keys import Keys
from tests.apps import wait_until
from tests.faults.helpers import BILLING, OUTCOMES, wait_outcome

from .conftest import LANES

pytestmark = pytest.mark.usefixtures("guard")

LATENCY = 1.0            # seconds the simulator holds every REST request (a slow Twilio)
_CALL_PATH = re.compile(r"/Calls/(CA[0-9a-f]{32})\.json$")


def start_transfers(stack, sim, count: int, first_number: int) -> tuple[list[str], list[str], float]:
    """`count` callers with the agent, then a cold transfer of each, all POSTed at once against a slow
    Twilio; returns (caller SIDs, transfer ids, when the first POST was sent)."""
    sim.add_persona({"address": BILLING, "kind": "human", "answer_after": 0.2})
    callers = [stack.place_call(f"+1415555{first_number + n:04d}") for n in range(count)]
    sim.settings(rest_latency=LATENCY)
    sent = time.time()
    transfers = [stack.transfer(sid, {"to": "billing", "mode": "cold"})["id"] for sid in callers]
    return callers, transfers, sent


def first_rest_requests(sim, callers: list[str], since: float, timeout: float) -> dict[str, float]:
    """Caller SID -> arrival time of the first REST request about that call after `since`."""

    def arrived():
        first: dict[str, float] = {}
        for entry in sim.requests():
            match = _CALL_PATH.search(entry["path"])
            if match and match.group(1) in callers and entry["time"] >= since:
                first.setdefault(match.group(1), entry["time"])
        return first if len(first) == len(callers) else None

    return wait_until(arrived, timeout=timeout, message="a REST request for every transfer")


def queue_of(stack) -> Queue:
    return Queue(Keys(stack.key_prefix).queue_name(), connection=stack.redis_client())


def test_transfers_started_together_reach_a_slow_twilio_together(stack, sim):
    count = 6
    callers, _, sent = start_transfers(stack, sim, count, first_number=4100)
    # One process, one job at a time, would send them LATENCY apart: 5 s from first to last.
    first = first_rest_requests(sim, callers, sent, timeout=count * LATENCY + 10)
    spread = max(first.values()) - min(first.values())
    assert spread < LATENCY, f"first REST requests {spread:.2f} s apart: they queued behind each other"
    # While Twilio holds them, each job shows in RQ as its own worker (a lane) with its current job.
    busy = [w for w in Worker.all(queue=queue_of(stack)) if w.get_state() == "busy"]
    assert len(busy) >= count and len({w.name for w in busy}) == len(busy), [(w.name, w.get_state()) for w in busy]
    assert len({w.get_current_job_id() for w in busy}) == len(busy)


def test_sigterm_lets_busy_lanes_finish_and_strands_nothing(stack, sim):
    count = 4
    callers, transfers, sent = start_transfers(stack, sim, count, first_number=4200)
    first = first_rest_requests(sim, callers, sent, timeout=count * LATENCY + 10)
    assert max(first.values()) - min(first.values()) < LATENCY, "the jobs did not run side by side"
    queue = queue_of(stack)
    failed_before = queue.failed_job_registry.count
    began = time.monotonic()
    stack.worker.signal_group(signal.SIGTERM)          # every lane is waiting on Twilio
    wait_until(lambda: not stack.worker.pids(), timeout=LATENCY + 10, message="the worker processes gone")
    stopped_in = time.monotonic() - began
    # The busy lanes finished their jobs (one Twilio answer away), then the process ended: not one
    # job after another, and not a BLPOP timeout later.
    assert stopped_in < LATENCY + 4, f"stopped {stopped_in:.1f} s after SIGTERM"
    assert queue.started_job_registry.get_job_ids() == [], "a job was left half-run"
    assert queue.failed_job_registry.count == failed_before
    log = stack.logs["worker"].read_text()
    assert "Traceback" not in log, log[-3000:]
    sim.settings(rest_latency=0)
    stack.start_workers()
    for transfer_id in transfers:
        wait_outcome(stack, transfer_id, timeout=20, allowed=OUTCOMES)


def test_a_job_in_a_lane_ends_at_its_timeout(stack):
    queue = queue_of(stack)
    count = 3
    # Jobs that would spin for 30 s, with a 1 s timeout, all at once (the process has LANES lanes).
    assert count <= LANES
    jobs = [queue.enqueue_call("tests.workers.spin.spin", args=(30,), timeout=1, result_ttl=60, failure_ttl=60)
            for _ in range(count)]

    def all_failed():
        fetched = [Job.fetch(job.id, connection=queue.connection) for job in jobs]
        return fetched if all(j.get_status() == JobStatus.FAILED for j in fetched) else None

    done = wait_until(all_failed, timeout=15, message="every spinning job ended by its timeout")
    for job in done:
        raised = job.latest_result().exc_string.strip().splitlines()[-1]
        assert raised.startswith("rq.timeouts.JobTimeoutException"), job.latest_result().exc_string
        assert (job.ended_at - job.started_at).total_seconds() < 5
    # They ran side by side, each in its own lane, and each was stopped by its own timer.
    assert max(j.started_at for j in done) < min(j.ended_at for j in done)
    assert len({j.worker_name for j in done}) == count
    # The lanes go on taking jobs.
    after = queue.enqueue_call("tests.workers.spin.spin", args=(0,), timeout=5, result_ttl=60)
    wait_until(lambda: after.get_status(refresh=True) == JobStatus.FINISHED, timeout=10, message="a job after")
