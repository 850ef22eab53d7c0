"""RQ timers: a ring timeout fires from our scheduler even when Twilio never reports back."""
import time

from handoff.jobs import JobQueue


def test_scheduled_job_runs_on_time_never_early(app, workers, sim):
    """A timer scheduled 1.2 s ahead runs within 0.5 s after its deadline, never before."""
    runtime = app.extensions["handoff"]
    jobs: JobQueue = runtime.jobs
    deadline = time.time() + 1.2
    # ring_timeout on a transfer that does not exist is a harmless no-op; we only watch it run.
    jobs.schedule("ring_timeout", "tr_timer_probe", 0, delay=1.2, job_id="handoff-test-timer-probe")
    from rq.job import Job

    def finished():
        job = Job.fetch("handoff-test-timer-probe", connection=runtime.redis)
        return job if job.get_status() == "finished" else None

    job = sim.wait_for(finished, timeout=10, message="timer ran")
    started = job.started_at.timestamp()
    assert started >= deadline - 0.01, f"fired {deadline - started:.3f}s early"
    assert started - deadline < 0.5, f"fired {started - deadline:.3f}s late"


def test_a_cold_attempt_that_ends_cancels_its_ring_timer(app, sim, phone, api, wait_transfer):
    """The ring timer is a waiting state's deadline: once the Dial reports, it is taken off the schedule."""
    from rq.registry import ScheduledJobRegistry

    sim.add_persona({"address": "+14155550101", "kind": "no-answer"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "timeout": 2}).get_json()
    timer = f"handoff-timer-{transfer['id']}-0-all-ring"
    registry = ScheduledJobRegistry(queue=app.extensions["handoff"].jobs.queue)
    sim.wait_for(lambda: timer in registry.get_job_ids(), timeout=5, message="ring timer armed")
    assert wait_transfer(transfer["id"])["outcome"] == "transfer-failed-timeout"   # Twilio's Dial timeout
    assert timer not in registry.get_job_ids()
