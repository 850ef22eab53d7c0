"""Running scenarios in parallel, each on its own calls: its own agent number, its own caller number
(unless it pins one: scenarios pinning the same caller run one after another), personas scoped to both."""
from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from . import drive
from .endpoint import Endpoint
from .files import Scenario

AGENT_PREFIX = "+1500555"      # Twilio's test-number range: never a real agent's number
CALLER_PREFIX = "+1415555"


class Numbers:
    """Unique numbers for one run (random, so two runs sharing make run's simulator rarely meet)."""

    def __init__(self, taken: set[str] = frozenset()):
        self._taken = set(taken)
        self._lock = threading.Lock()
        self._random = random.SystemRandom()

    def _new(self, prefix: str, low: int) -> str:
        with self._lock:
            while True:
                number = f"{prefix}{self._random.randrange(low, 10000):04d}"
                if number not in self._taken:
                    self._taken.add(number)
                    return number

    def agent(self) -> str:
        return self._new(AGENT_PREFIX, 1000)

    def caller(self) -> str:
        return self._new(CALLER_PREFIX, 2000)


def lanes(scenarios: list[Scenario]) -> list[list[Scenario]]:
    """Groups run one after another: scenarios pinning the same caller on the same service; others alone."""
    grouped: dict[tuple, list[Scenario]] = {}
    for n, scenario in enumerate(scenarios):
        pinned = scenario.pinned_caller
        key = (scenario.recipients.key, pinned) if pinned else ("alone", n)
        grouped.setdefault(key, []).append(scenario)
    return list(grouped.values())


def run_all(scenarios: list[Scenario], endpoints: dict[str, Endpoint], *, jobs: int = 8,
            progress: Callable[[drive.Result, int, int], None] = lambda result, done, total: None
            ) -> list[drive.Result]:
    """Every scenario's result, in the order given."""
    taken = {address for s in scenarios for address in _recipient_numbers(s)}
    numbers = Numbers(taken | {s.pinned_caller for s in scenarios if s.pinned_caller})
    results: dict[int, drive.Result] = {}
    lock = threading.Lock()
    order = {id(s): n for n, s in enumerate(scenarios)}

    cancel = threading.Event()

    def lane(group: list[Scenario]) -> None:
        for scenario in group:
            if cancel.is_set():
                return
            result = drive.run(scenario, endpoints[scenario.recipients.key], cancel=cancel,
                               caller=scenario.pinned_caller or numbers.caller(), agent_number=numbers.agent())
            with lock:
                results[order[id(scenario)]] = result
                if not cancel.is_set():     # after Ctrl-C, "interrupted" for each scenario says nothing new
                    progress(result, len(results), len(scenarios))

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        for future in [pool.submit(lane, group) for group in lanes(scenarios)]:
            future.result()
    except BaseException:    # Ctrl-C: the scenarios under way stop at their next poll and hang up their calls
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [results[n] for n in range(len(scenarios))]


def _recipient_numbers(scenario: Scenario) -> set[str]:
    """Numbers the recipients file dials: a generated caller must never be one of them."""
    return {r.number for r in scenario.recipients.config.recipients.values() if r.number and "<" not in r.number}
