"""Every recipients-file reload is in the audit log: by the file watcher or SIGHUP, with its result."""
from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT

from .conftest import built_app, wait_until

RECIPIENTS = ROOT / "tests" / "fixtures" / "recipients.yaml"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text.replace(old, new))
    os.replace(tmp, path)        # atomic, like an editor


def _reloads(audit, path: Path) -> list:
    return [e for e in audit.recent(500, action="routing-reload") if e.target == str(path)]


@pytest.fixture
def recipients(tmp_path) -> Path:
    path = tmp_path / "recipients.yaml"
    shutil.copy(RECIPIENTS, path)
    return path


def test_a_reload_and_a_failed_one_are_recorded(service_env, recipients, audit):
    with built_app(service_env, TRANSFER_CONFIG=str(recipients)):
        _edit(recipients, '"+14155550101"', '"+14155550191"')
        good = wait_until(lambda: _reloads(audit, recipients), timeout=5, message="reload recorded")
        assert len(good) == 1
        entry = good[0]
        assert entry.actor == "file-watch" and entry.detail["ok"] is True and entry.detail["generation"] == 2
        assert "reloaded" in entry.detail["message"] and len(entry.detail["sha256"]) == 16
        _edit(recipients, '    number: "+14155550191"', '    numbr: "+14155550191"')
        bad = wait_until(lambda: [e for e in _reloads(audit, recipients) if not e.detail["ok"]], timeout=5,
                         message="failed reload recorded")
        assert "kept the last good recipients file" in bad[0].detail["message"]
        assert "numbr" in bad[0].detail["message"]


def test_processes_reloading_the_same_file_make_one_entry(service_env, recipients, audit):
    """Each gunicorn process watches the file: one edit is one entry, not one per process."""
    with built_app(service_env, TRANSFER_CONFIG=str(recipients)) as first, \
            built_app(service_env, TRANSFER_CONFIG=str(recipients)) as second:
        _edit(recipients, '"+14155550101"', '"+14155550192"')
        holders = [a.extensions["handoff"].routing for a in (first, second)]
        wait_until(lambda: all(h.generation == 2 for h in holders), timeout=5, message="both reloaded")
        entries = wait_until(lambda: _reloads(audit, recipients), timeout=5, message="reload recorded")
        assert len(entries) == 1 and entries[0].detail["ok"] is True


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_a_sighup_reload_is_recorded_as_sighup(service_env, recipients, audit):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGHUP is only wired in the main thread")
    with built_app(service_env, TRANSFER_CONFIG=str(recipients)) as flask_app:
        holder = flask_app.extensions["handoff"].routing
        flask_app.extensions["routing_watch"].set()   # only SIGHUP may reload now (its wait returns at once)
        _edit(recipients, '"+14155550101"', '"+14155550193"')
        os.kill(os.getpid(), signal.SIGHUP)
        wait_until(lambda: holder.generation == 2, timeout=3, message="SIGHUP reload")
        entry = wait_until(lambda: _reloads(audit, recipients), timeout=3, message="reload recorded")[0]
        assert entry.actor == "sighup" and entry.detail["ok"] is True
