"""`flask routing explain` and `flask routing check`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import RECIPIENTS

ROOT = Path(__file__).resolve().parents[2]


def _run(flask_app, *args):
    return flask_app.test_cli_runner().invoke(args=["routing", *args])


def test_explain_prints_the_same_json_as_the_api(routing_app, rapi):
    at = "2026-11-23T10:00:00-05:00"
    result = _run(routing_app, "explain", "--var", "intent=billing", "--var", "language=es", "--at", at)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["selected_rule"] == "billing" and printed["at"] == at
    assert [r["name"] for r in printed["recipients"]] == ["ra_billing"]
    api = rapi("post", "/api/routing/explain",
               json={"variables": {"intent": "billing", "language": "es"}, "at": at}).get_json()
    assert printed == api


def test_explain_to_a_named_destination_and_summary(routing_app):
    result = _run(routing_app, "explain", "--to", "general", "--at", "2026-11-26T10:00:00-05:00", "--summary")
    assert result.exit_code == 0, result.output
    assert "selected rule: general" in result.output
    assert "ra_spanish" in result.output and "Thanksgiving" in result.output
    assert "recipients, in order:" in result.output


def test_explain_auto_summary_marks_the_selected_rule(routing_app):
    result = _run(routing_app, "explain", "--var", "language=es-MX", "--summary")
    assert result.exit_code == 0, result.output
    assert "-> spanish:" in result.output and "-- billing:" in result.output


def test_explain_refusal_exits_1_with_the_error(routing_app):
    result = _run(routing_app, "explain", "--to", "ra_line")
    assert result.exit_code == 1
    assert json.loads(result.output)["error"]["field"] == "variables.line"
    result = _run(routing_app, "explain", "--to", "ra_line", "--summary")
    assert result.exit_code == 1 and "REFUSED (variables.line)" in result.output


def test_explain_bad_options(routing_app):
    result = _run(routing_app, "explain", "--var", "intent")
    assert result.exit_code == 2 and "NAME=VALUE" in result.output
    result = _run(routing_app, "explain", "--at", "tomorrow")
    assert result.exit_code == 2 and "--at" in result.output
    result = _run(routing_app, "explain", "--at", "2026-11-23T10:00:00")
    assert result.exit_code == 2 and "UTC offset" in result.output
    result = _run(routing_app, "explain", "--call-sid", "CA" + "0" * 32)
    assert result.exit_code == 1 and "no call" in result.output
    for edge in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):   # would overflow, not crash
        result = _run(routing_app, "explain", "--at", edge)
        assert result.exit_code == 2 and "out of range" in result.output and result.exception.__class__ is SystemExit


def test_explain_with_a_live_calls_variables(routing_app, rapi, phone):
    caller = phone("+14155550791")
    rapi("put", f"/api/calls/{caller}/variables", json={"variables": {"intent": "billing"}})
    result = _run(routing_app, "explain", "--call-sid", caller)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["variables"]["intent"] == {"value": "billing", "source": "call"}


def test_check_validates_files(routing_app, tmp_path):
    result = _run(routing_app, "check")
    assert result.exit_code == 0 and "OK (" in result.output and "3 rules" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text(RECIPIENTS.read_text().replace("    number: \"+14155550701\"", "    numbr: \"+14155550701\""))
    result = _run(routing_app, "check", str(broken))
    assert result.exit_code == 1
    assert "broken.yaml" in result.output and "ra_billing" in result.output and "numbr" in result.output


def test_flask_command_line_finds_the_command(service_env):
    env = {**os.environ, **service_env, "TRANSFER_CONFIG": str(RECIPIENTS)}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "routing", "explain",
                           "--var", "intent=billing", "--to", "auto"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["selected_rule"] == "billing"
