"""Each transfer's outcome is one log line (logger handoff.outcome), written by the workers."""
from __future__ import annotations

import logging
import re

from handoff.events import Event
from handoff.outcome_log import log_outcome, outcome_line

from .conftest import wait_until, worker_log

COMPLETED = {"id": "1-0", "event": "completed", "at": "2026-11-21T10:00:30.000Z", "transfer_id": "tr_1",
             "call_sid": "CA" + "0" * 32, "attempt": 2, "leg": None, "outcome": "transfer-failed-timeout",
             "detail": "nobody answered", "mode": "warm", "destination": "billing_desk", "rule": "billing",
             "attempts": 2, "hold_seconds": 31.25, "answer_seconds": None, "accept_seconds": None,
             "seconds_to_outcome": 32.0}


def test_the_line_has_the_outcome_its_reason_attempts_and_durations():
    assert outcome_line(COMPLETED) == (
        f"transfer=tr_1 call=CA{'0' * 32} mode=warm outcome=transfer-failed-timeout attempts=2 "
        "destination=billing_desk rule=billing hold=31.2s answer=- accept=- decided_after=32.0s "
        'reason="nobody answered"')


def test_only_completed_events_are_logged_failures_at_warning(caplog):
    caplog.set_level(logging.INFO, logger="handoff.outcome")
    log_outcome(Event.from_entry("1-0", {"e": '{"event": "leg-ringing", "transfer": "tr_1"}'}))
    log_outcome({**COMPLETED, "event": "outcome"})
    assert not caplog.records
    log_outcome(COMPLETED)
    log_outcome({**COMPLETED, "outcome": "transfer-success", "detail": "accepted"})
    assert [(r.name, r.levelname) for r in caplog.records] == [("handoff.outcome", "WARNING"),
                                                                ("handoff.outcome", "INFO")]


def test_a_real_transfer_is_logged_once_by_the_worker_with_numbers_masked(sim, phone, api, wait_transfer,
                                                                       service_env):
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.4})
    caller = phone("+14155550933")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "mode": "cold"}).get_json()
    assert wait_transfer(transfer["id"])["outcome"] == "transfer-success"
    path = worker_log(service_env)

    def line():
        found = [ln for ln in path.read_text().splitlines() if f"transfer={transfer['id']} " in ln]
        return found or None

    lines = wait_until(line, timeout=10, message="the worker's outcome line")
    assert len(lines) == 1 and " handoff.outcome INFO " in lines[0]
    fields = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', lines[0].split(" handoff.outcome INFO ", 1)[1]))
    assert fields["call"] == caller and fields["mode"] == "cold" and fields["outcome"] == "transfer-success"
    assert fields["attempts"] == "1" and fields["destination"] == "billing"
    assert fields["reason"] == "answered"     # the outcome's own reason, not why the call later ended
    assert re.fullmatch(r"\d+\.\ds", fields["decided_after"])
    # The worker process masks every line: neither party's number appears in full, anywhere in its log.
    text = path.read_text()
    assert "+14155550933" not in text and "+14155550101" not in text
