"""Phone numbers (and SIP users, client identities) are masked in every log line unless LOG_PII=true."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import pytest
import requests

from devtools.embedded_redis import free_port
from handoff.log_masking import PiiFilter, mask, masking_enabled, setup_log_masking
from tests.conftest import ROOT

from .conftest import built_app, wait_until


@pytest.mark.parametrize("text, masked", [
    ("+14155550123", "+1********23"),
    ("call from +447700900123 to +14155550101.", "call from +44********23 to +1********01."),
    ("+33612345678", "+33*******78"),
    ('{"to": "+14155550150", "mode": "warm"}', '{"to": "+1********50", "mode": "warm"}'),
    ("From=%2B14155550123&To=%2b15005550006", "From=%2B1********23&To=%2b1********06"),
    ("sip:+14155550123@pbx.example.com;transport=tls", "sip:+1********23@pbx.example.com;transport=tls"),
    ("<sips:alice@pbx.example.com>", "<sips:a***@pbx.example.com>"),
    ("sip:handoff:s3cret@pbx.example.com", "sip:h***@pbx.example.com"),
    ("dialing client:alice_smith now", "dialing client:a*** now"),
    # not phone numbers: left alone
    ("transfer tr_4f2a call CA0123456789abcdef0123456789abcdef at 2026-11-21T10:00:00+00:00", None),
    ("PREFIXES=+1415555 retry in 0.2 s (+15 ms)", "PREFIXES=+1****55 retry in 0.2 s (+15 ms)"),
])
def test_mask(text, masked):
    assert mask(text) == (text if masked is None else masked)


@pytest.fixture
def masking(app):
    """Masking on (the session app turned it on: LOG_PII is unset); restored afterwards."""
    before = masking_enabled()
    setup_log_masking(False)
    yield
    setup_log_masking(not before)


def test_every_logger_is_masked_arguments_and_tracebacks_included(masking, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("somebody.elses.library").warning("call from %s to %s", "+14155550123",
                                                          "sip:alice@pbx.example.com")
    logging.getLogger("handoff.test").info("variables %s", {"caller": "+14155550124"})
    try:
        raise ValueError("cannot dial +14155550125")
    except ValueError:
        logging.getLogger("handoff.test").exception("dial failed for %s", "client:bob")
    assert [r.getMessage() for r in caplog.records[-3:]] == [
        "call from +1********23 to sip:a***@pbx.example.com", "variables {'caller': '+1********24'}",
        "dial failed for client:b***"]
    for number in ("+14155550123", "+14155550124", "+14155550125", "alice", "bob"):
        assert number not in caplog.text
    assert "cannot dial +1********25" in caplog.text        # the traceback, masked


def test_a_message_without_numbers_keeps_its_template(masking, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("handoff.test").info("transfer %s moved on after %d s", "tr_1", 3)
    record = caplog.records[-1]
    assert record.msg == "transfer %s moved on after %d s" and record.args == ("tr_1", 3)


def test_the_filter_masks_a_record_made_elsewhere(masking):
    record = logging.makeLogRecord({"msg": "to %s", "args": ("+14155550126",)})
    assert PiiFilter().filter(record) is True and record.getMessage() == "to +1********26"


def test_log_pii_true_logs_numbers_as_they_are(service_env, caplog):
    caplog.set_level(logging.INFO)
    log = logging.getLogger("handoff.test")
    with built_app(service_env, LOG_PII="true"):
        assert not masking_enabled()
        log.info("caller %s", "+14155550127")
    log.info("caller %s", "+14155550128")           # the app is gone: masking is back
    assert "caller +14155550127" in caplog.text and "+14155550128" not in caplog.text


def test_gunicorn_masks_its_access_log_and_stops_cleanly(service_env, tmp_path):
    """The Procfile's web process: its access log lines are masked too, and SIGTERM stops it quietly."""
    port = free_port()
    env = {**os.environ, **service_env, "PORT": str(port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:blueprints.gunicorn_hooks",
                                   "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket",
                                   "--access-logfile", "-", "app:create_app()"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def asked() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz?from=%2B14155550129&to=+14155550130",
                                    timeout=5).status_code > 0
            except (requests.ConnectionError, requests.Timeout):
                # accepted but the worker is still importing the app (slow on a loaded CI machine)
                assert server.poll() is None, log_path.read_text()
                return False

        wait_until(asked, timeout=60, message="gunicorn answering", interval=0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=15)
    text = log_path.read_text()
    assert "GET /healthz?from=%2B1********29&to=+1********30 " in text
    assert "14155550129" not in text and "14155550130" not in text
    assert status == 0 and "Traceback" not in text, text
