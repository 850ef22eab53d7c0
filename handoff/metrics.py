"""Prometheus metrics: in-process instruments (multiprocess mode) and the domain figures read from Redis.

Two kinds, on purpose:

- in-process instruments (webhook latency in the web processes; Twilio REST calls and jobs in the
  worker processes) are written by each process to its own mmap file in PROMETHEUS_MULTIPROC_DIR
  and summed at scrape time, so every gunicorn worker and every RQ worker process of a machine
  counts, whichever process answers the scrape;
- the domain figures (transfers, attempts, time to answer/accept, hold, queues, deadlines, the
  sweepers' heartbeat) are read from Redis at scrape time by `DomainCollector`, in one pipelined
  round trip: they are written by the Lua of each transition (lua/analytics.lua), so they are
  exact and global, whatever the process topology.

PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is first imported (the Procfile,
devtools/run_local.py and tests/conftest.py set it); without it every process counts on its own.
"""
from __future__ import annotations

import logging
import math
import os
import time

# prometheus_client picks its value class when first imported, and opens its files in this
# directory on a labelled metric's first use: the directory must exist before either.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
if os.environ.get(MULTIPROC_ENV):
    os.makedirs(os.environ[MULTIPROC_ENV], exist_ok=True)

import redis  # noqa: E402
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram  # noqa: E402
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily  # noqa: E402
from prometheus_client.exposition import choose_encoder  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead  # noqa: E402
from prometheus_client.utils import floatToGoString  # noqa: E402

from .analytics import parse_bound, parse_field  # noqa: E402
from .keys import Keys, decode  # noqa: E402

log = logging.getLogger("handoff.metrics")

# -- in-process instruments (every metric is labelled: a process writes a file only once it observes)

WEBHOOK_SECONDS = Histogram(
    "handoff_webhook_duration_seconds", "Time to answer a Twilio webhook, in the web process.",
    ["route", "status"])
TWILIO_SECONDS = Histogram(
    "handoff_twilio_request_duration_seconds", "One try of a Twilio REST request (gateway).",
    ["operation"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, math.inf))
TWILIO_REQUESTS = Counter(
    "handoff_twilio_requests", "Twilio REST tries by HTTP status ('ok', or 'connection' when no answer).",
    ["operation", "status"])
TWILIO_FAILURES = Counter(
    "handoff_twilio_failures", "Twilio REST requests given up (after retries when transient).",
    ["operation", "kind"])
JOB_SECONDS = Histogram(
    "handoff_job_duration_seconds", "RQ job run time by job and outcome (ok, failed).",
    ["job", "outcome"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, math.inf))
JOBS_RUNNING = Gauge(
    "handoff_jobs_in_progress", "RQ jobs running now, by job.", ["job"], multiprocess_mode="livesum")


_webhook_series: dict[tuple[str, int], Histogram] = {}


def observe_webhook(route: str, status: int, seconds: float) -> None:
    """A Twilio webhook was answered (local mmap writes only: no Redis, no lock held for long)."""
    series = _webhook_series.get((route, status))
    if series is None:   # labels() takes a lock and builds a key: once per route and status, not per request
        series = _webhook_series[(route, status)] = WEBHOOK_SECONDS.labels(route, str(status))
    series.observe(seconds)


def observe_twilio(operation: str, status: str, seconds: float) -> None:
    """One try of a REST request ended with `status` ('ok', an HTTP status, or 'connection')."""
    operation = operation.replace(" ", "_")
    TWILIO_SECONDS.labels(operation).observe(seconds)
    TWILIO_REQUESTS.labels(operation, status).inc()


def twilio_gave_up(operation: str, *, transient: bool) -> None:
    """A REST request failed for good."""
    TWILIO_FAILURES.labels(operation.replace(" ", "_"), "transient" if transient else "permanent").inc()


class JobTimer:
    """Times one job: `with JobTimer(name) as t: t.ok = run()`; outcome is 'failed' unless t.ok."""

    def __init__(self, job: str):
        self.job = job
        self.ok = False

    def __enter__(self) -> "JobTimer":
        self._started = time.perf_counter()
        JOBS_RUNNING.labels(self.job).inc()
        return self

    def __exit__(self, *exc) -> None:
        JOBS_RUNNING.labels(self.job).dec()
        JOB_SECONDS.labels(self.job, "ok" if self.ok else "failed").observe(time.perf_counter() - self._started)


# -- the multiprocess directory's bookkeeping --------------------------------------------------

def multiproc_dir() -> str | None:
    """The directory every process of this machine writes its metric files to (None: single process)."""
    path = os.environ.get(MULTIPROC_ENV)
    return path if path and os.path.isdir(path) else None


def remove_stale_files(path: str | None = None) -> int:
    """Delete the files of processes that no longer run (a previous run's), keeping live ones'.

    Called where a group of processes starts (gunicorn's master, the worker pool): web and worker
    share the directory on one machine, so neither may wipe it while the other runs."""
    path = path or multiproc_dir()
    if not path:
        return 0
    removed = 0
    for name in os.listdir(path):
        stem, dot, ext = name.rpartition(".")
        pid = stem.rpartition("_")[2]
        if ext != "db" or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            os.remove(os.path.join(path, name))
            removed += 1
        except FileNotFoundError:    # another starting process removed it first
            pass
    return removed


def process_exited(pid: int) -> None:
    """A child process is gone: its live gauges stop counting (its counters and histograms stay)."""
    if multiproc_dir():
        mark_process_dead(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:      # someone else's process holds the pid: not ours to delete
        return True
    return True


# -- the domain figures, read from Redis at scrape time -----------------------------------------

HISTOGRAMS = (("answer", "handoff_time_to_answer_seconds", "Attempts: seconds from dial to answered."),
              ("accept", "handoff_time_to_accept_seconds", "Attempts: seconds from dial to accepted."),
              ("hold", "handoff_caller_hold_seconds", "Transfers: seconds the caller held."))
QUEUE_STATES = ("queued", "started", "failed")


class DomainCollector:
    """Transfers, attempts, duration histograms, queue depth, deadlines and the sweepers' heartbeat,
    from the analytics totals hash and the indexes, in one pipelined round trip per scrape."""

    def __init__(self, connection: redis.Redis, keys: Keys):
        from rq.queue import Queue
        from rq.registry import FailedJobRegistry, StartedJobRegistry

        from .event_webhooks import QUEUE as EVENTS_QUEUE
        from .transfer.lifecycle import LEASE
        from .transfer.recovery import STALE_AFTER

        self.redis = connection
        self.keys = keys
        self.queues = (keys.queue_name(), keys.queue_name(EVENTS_QUEUE))
        # RQ's own key layout, from its classes, so an RQ upgrade cannot silently zero the gauges.
        self._queue_keys = [(Queue.redis_queue_namespace_prefix + name, StartedJobRegistry.key_template.format(name),
                             FailedJobRegistry.key_template.format(name)) for name in self.queues]
        self.overdue_slack = LEASE + STALE_AFTER     # as /healthz counts them
        self.stale_after = STALE_AFTER

    def collect(self):
        now = time.time()
        up = GaugeMetricFamily("handoff_redis_up", "1 when /metrics could read Redis for the figures below.")
        try:
            raw = self._read(now)
        except (redis.exceptions.RedisError, OSError) as exc:
            log.warning("metrics: Redis unavailable (%s)", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._families(raw, now)

    def _read(self, now: float) -> list:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.analytics("totals"))
        for queued, started, failed in self._queue_keys:
            pipe.llen(queued)
            pipe.zcard(started)
            pipe.zcard(failed)
        pipe.zcard(self.keys.deadlines())
        pipe.zcount(self.keys.deadlines(), "-inf", now - self.overdue_slack)
        pipe.zrevrange(self.keys.sweepers(), 0, 0, withscores=True)
        pipe.zcount(self.keys.sweepers(), now - self.stale_after, "+inf")
        return pipe.execute()

    def _families(self, raw: list, now: float):
        totals = {decode(k): _number(v) for k, v in raw[0].items()}
        depths = raw[1:1 + 3 * len(self.queues)]
        waiting, overdue, newest, alive = raw[1 + 3 * len(self.queues):]
        yield from self._counters(totals)
        yield from self._histograms(totals)
        queue = GaugeMetricFamily("handoff_queue_jobs", "RQ jobs by queue (transfers, event webhooks) and state.",
                                  labels=["queue", "state"])
        for n, name in enumerate(self.queues):
            for state, count in zip(QUEUE_STATES, depths[3 * n:3 * n + 3]):
                queue.add_metric([name, state], count)
        yield queue
        yield _gauge("handoff_deadlines_waiting", "Deadlines armed (transfers waiting on a timer).", waiting)
        yield _gauge("handoff_deadlines_overdue",
                     "Deadlines passed longer ago than a lease plus the sweeper's grace (nobody sweeping?).", overdue)
        yield _gauge("handoff_schedulers_alive",
                     f"Deadline sweepers heard from in the last {self.stale_after:.0f} s.", alive)
        if newest:
            beat = float(newest[0][1])
            yield _gauge("handoff_scheduler_last_heartbeat_timestamp_seconds",
                         "When a deadline sweeper (the scheduler) last heartbeated, epoch seconds.", beat)
            yield _gauge("handoff_scheduler_heartbeat_age_seconds",
                         "Seconds since a deadline sweeper last heartbeated.", max(0.0, now - beat))
        if "requested" in totals:     # counted by create.lua, when it does: in flight = requested - decided
            yield _gauge("handoff_transfers_in_flight", "Transfers requested whose outcome is not decided yet.",
                         max(0.0, totals["requested"] - totals.get("all=*|transfers", 0.0)))

    @staticmethod
    def _counters(totals: dict[str, float]):
        transfers = CounterMetricFamily("handoff_transfers", "Finished transfers by mode, outcome and destination.",
                                        labels=["mode", "outcome", "destination"])
        attempts = CounterMetricFamily("handoff_attempts", "Ended attempts by destination and result.",
                                       labels=["destination", "result"])
        webhooks = CounterMetricFamily("handoff_event_webhooks", "Event webhook tries by result.", labels=["result"])
        refused = CounterMetricFamily("handoff_transfers_refused", "Transfer requests refused by a call-wide limit, by "
                                      "reason (chain-limit: TRANSFER_CHAIN_LIMIT).", labels=["reason"])
        for name, value in totals.items():
            kind, _, rest = name.partition("|")
            if kind == "transfers" and rest.count("|") >= 2:
                mode, outcome, destination = rest.split("|", 2)
                transfers.add_metric([mode, outcome, destination], value)
            elif kind == "attempts" and rest.startswith("dest=") and "|" in rest:
                destination, _, result = rest[len("dest="):].rpartition("|")
                attempts.add_metric([destination, result], value)
            elif kind == "event_webhooks" and rest:
                webhooks.add_metric([rest], value)
            elif kind == "refused" and rest:     # counted as store.CHAIN_REFUSED by create.lua (and Store.chain_refused)
                refused.add_metric([rest], value)
        yield transfers
        yield attempts
        yield webhooks
        yield refused
        yield _counter("handoff_hangups_on_hold", "Callers who hung up while on hold.",
                       totals.get("all=*|hangup_on_hold", 0.0))

    @staticmethod
    def _histograms(totals: dict[str, float]):
        bins: dict[str, dict[float, float]] = {metric: {} for metric, _, _ in HISTOGRAMS}
        for name, value in totals.items():
            parsed = parse_field(name)
            if not parsed or parsed[0] != "all":
                continue
            metric, _, bound = parsed[2].partition("_le:")
            if bound and metric in bins:
                try:
                    bins[metric][parse_bound(bound)] = value
                except ValueError:
                    continue
        # Every histogram gets the bounds any of them has seen: stable series, comparable buckets.
        ladder = sorted({b for seen in bins.values() for b in seen} | {math.inf})
        for metric, name, doc in HISTOGRAMS:
            count = totals.get(f"all=*|{metric}_n", 0.0)
            cumulative, buckets = 0.0, []
            for bound in ladder:
                cumulative += bins[metric].get(bound, 0.0)      # bins are per bin; Prometheus' buckets add up
                buckets.append((floatToGoString(bound), count if bound == math.inf else cumulative))
            family = HistogramMetricFamily(name, doc, labels=[])
            family.add_metric([], buckets, sum_value=totals.get(f"all=*|{metric}_sum", 0.0))
            yield family


def _number(value) -> float:
    try:
        return float(decode(value))
    except ValueError:
        return 0.0


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=float(value))


# -- the scrape ---------------------------------------------------------------------------------

class _ThisProcess:
    """Without a multiprocess directory: this process's own instruments (and its process_* figures)."""

    def collect(self):
        yield from REGISTRY.collect()


def build_registry(connection: redis.Redis, keys: Keys) -> CollectorRegistry:
    """What /metrics exposes: every local process's instruments, then the domain figures."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiproc_dir()
    if path:
        MultiProcessCollector(registry, path=path)
    else:
        registry.register(_ThisProcess())
    registry.register(DomainCollector(connection, keys))
    return registry


def exposition(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The scrape's body and content type, in the format the scraper asked for."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type

