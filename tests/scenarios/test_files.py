"""Scenario files that are wrong are refused before anything runs: exit 2, one line per problem
naming the file, the scenario and the field."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "devtools.scenarios", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_a_malformed_file_exits_2_naming_file_scenario_and_field(scenario_file):
    path = scenario_file("""\
        recipients: {recipients}
        scenarios:
          - name: closed on Sunday
            clock: 2026-11-22T22:00:00-05:00
            recipients:
              billing_desk: {does: acepts}
            expect: {outcome: transfer-success}
          - name: a typo in a key
            expect: {outcome: transfer-success, caller_end: agent}
          - name: an unknown recipient
            recipients:
              biling_desk: {does: busy}
            expect: {outcome: transfer-success}
    """, name="broken.yaml")
    result = run("run", path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith(str(path)) and 'scenario "closed on Sunday": recipients.billing_desk.does: '
               "must be one of accepts, declines" in line for line in lines), result.stderr
    assert f'{path}: scenario "a typo in a key": expect.caller_end: unknown key (known keys: outcome, path' \
        in result.stderr
    assert result.stdout == ""
    # Cross-checks against the recipients file run once the file is well-formed.
    path.write_text(path.read_text().replace("acepts", "accepts").replace("caller_end:", "caller_ends:"))
    result = run("check", path)
    assert result.returncode == 2
    assert f"{path}: scenario \"an unknown recipient\": recipients.biling_desk: 'biling_desk' is not a " \
           "recipient in examples/recipients.yaml (nor an address)" in result.stderr


def test_a_scenario_without_a_name_is_named_by_its_index(scenario_file):
    path = scenario_file("""\
        recipients_inline: {recipients: [{name: desk, type: number, number: "+14155550100"}]}
        scenarios:
          - {name: fine, expect: {outcome: transfer-success}}
          - {expect: {outcome: transfer-success}, start: {via: fax}}
    """)
    result = run("check", path)
    assert result.returncode == 2
    assert f"{path}: scenarios[1]: name: required" in result.stderr
    assert f"{path}: scenarios[1]: start.via: must be one of api, handoff_data, tool" in result.stderr


def test_refused_is_true_or_a_text_and_excludes_outcome_and_path(scenario_file):
    path = scenario_file("""\
        recipients: {recipients}
        scenarios:
          - {name: fine, expect: {refused: nobody can take, caller_ends: agent}}
          - {name: also fine, expect: {refused: true, heard: {front_desk: nothing}}}
          - {name: with an outcome, expect: {refused: true, outcome: transfer-success}}
          - {name: with a path, expect: {refused: true, path: [front_desk]}}
          - {name: refused false, expect: {refused: false}}
    """)
    result = run("check", path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert f'{path}: scenario "with an outcome": expect.refused: a refused transfer has no outcome: give refused, ' \
           "or outcome, not both" in lines
    assert f'{path}: scenario "with a path": expect.refused: a refused transfer has no path: give refused, ' \
           "or path, not both" in lines
    assert f'{path}: scenario "refused false": expect.refused: must be true, or a text the refusal\'s message ' \
           'contains (e.g. "nobody can take")' in lines
    assert not any('"fine"' in line or '"also fine"' in line for line in lines)
