"""6. Twenty open Inspector pages must not slow the Twilio webhooks.

Alternating runs of the dial-status webhook load (phase 1's signed requests): without pages, then
with PAGES live event streams open (what each open Inspector page holds: one Server-Sent Events
connection to the feed, through the same per-process hub). During both, transfers run in the
background at BACKGROUND_RATE per second, so the streams carry real events while the webhooks are
measured. Reported: webhook p50/p99 each way (median of rounds), their ratio, and the events each
page received (a page that received nothing would make the comparison meaningless).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import requests

from bench import webhooks
from bench.common import Sessions, place_calls, post_transfer
from bench.stack import Stack

PAGES = 20
ROUNDS = 3
BACKGROUND_RATE = 4.0       # transfers started per second while measuring (each writes ~7 events)


class _Pages:
    """PAGES open live streams (one thread each), counting the events they receive."""

    def __init__(self, stack: Stack, count: int):
        self.stack, self.count = stack, count
        self.received = [0] * count
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._responses: list = []
        self._threads = [threading.Thread(target=self._read, args=(i,), daemon=True) for i in range(count)]

    def _read(self, index: int) -> None:
        headers = {"Authorization": self.stack.api.headers["Authorization"], "Accept": "text/event-stream"}
        while not self._stop.is_set():
            try:
                with requests.get(f"{self.stack.app_url}/api/events", headers=headers, stream=True,
                                  timeout=(5, 30)) as response:
                    self._responses.append(response)
                    for line in response.iter_lines():
                        if self._stop.is_set():
                            return
                        if line.startswith(b"id:"):
                            self.received[index] += 1
            except (requests.RequestException, AttributeError, ValueError) as exc:
                if not self._stop.is_set():
                    self.errors.append(type(exc).__name__)
                    time.sleep(0.2)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        time.sleep(0.5 if self.count else 0)      # connected before the load starts
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for response in list(self._responses):
            try:
                response.close()
            except Exception:
                pass
        for thread in self._threads:
            thread.join(timeout=2)


class _Background:
    """Transfers started at `rate`/s on calls placed beforehand (cold, to a desk that is busy)."""

    def __init__(self, stack: Stack, callers: list[str], rate: float):
        self.stack, self.callers, self.rate = stack, callers, rate
        self.started = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = Sessions({"Authorization": self.stack.api.headers["Authorization"]}).session
        began = time.monotonic()
        while not self._stop.is_set() and self.callers:
            caller = self.callers.pop()
            _, _, status = post_transfer(self.stack, session, caller, {"to": "busy_desk", "mode": "cold"})
            self.started += status == 202
            self._stop.wait(max(0.0, began + self.started / self.rate - time.monotonic()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def measure(stack: Stack, work_dir: Path, callbacks) -> dict:
    """Webhook p50/p99 without and with PAGES open streams, alternating, ROUNDS times."""
    per_run = int(webhooks.DURATION * BACKGROUND_RATE) + 4
    callers = place_calls(stack, per_run * ROUNDS * 2, caller_base=14155556000)
    rounds = []
    for _ in range(ROUNDS):
        row = {}
        for pages in (0, PAGES):
            with _Background(stack, callers, BACKGROUND_RATE) as background, _Pages(stack, pages) as open_pages:
                result = webhooks.load(stack, stack.app_url, callbacks, work_dir, warmup=0)
            row["with_pages" if pages else "without_pages"] = {
                "p50_ms": result["p50_ms"], "p99_ms": result["p99_ms"], "rps": result["rps"],
                "background_transfers": background.started,
                "events_per_page": sorted(open_pages.received), "stream_errors": len(open_pages.errors)}
        row["p99_ratio"] = round(row["with_pages"]["p99_ms"] / row["without_pages"]["p99_ms"], 2)
        rounds.append(row)
    middle = sorted(rounds, key=lambda r: r["p99_ratio"])[len(rounds) // 2]
    return {"pages": PAGES, "rounds": rounds, "p99_ratio": middle["p99_ratio"],
            "p99_ratio_all_rounds": [r["p99_ratio"] for r in rounds],
            "without_pages": middle["without_pages"], "with_pages": middle["with_pages"],
            "min_events_per_page": min(min(r["with_pages"]["events_per_page"]) for r in rounds)}
