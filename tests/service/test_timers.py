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
