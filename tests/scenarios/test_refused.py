"""`expect: {refused: ...}`: when routing leaves nobody to dial, the service refuses the transfer (422
from the API, `ok: false` from the tool endpoint, the agent told why after HandoffData) and the
caller stays with the agent. A scenario can expect that, and one expecting the other fails."""
from __future__ import annotations

import xml.etree.ElementTree as ET

HEAD = """\
    recipients: {recipients}
    clock: 2026-11-22T12:00:00-05:00      # Sunday noon in New York: the front desk is closed, night not begun
    scenarios:
"""
CLOSED = "nobody can take this call now"


def test_a_refusal_is_expected_through_the_api_the_tool_and_handoff_data(scenario_file, run_scenarios):
    path = scenario_file(HEAD + """\
      - name: a VIP after hours, the escalation group is closed
        clock: 2026-11-23T18:00:00-05:00  # Monday 18:00
        caller: {variables: {vip: true}}
        expect:
          refused: NOBODY CAN TAKE        # any case
          heard: {browser_console: nothing, front_desk: nothing}
          caller_ends: agent
      - name: the tool on Sunday at noon
        start: {via: tool, to: front_desk}
        expect: {refused: "I can't transfer the call to front_desk", caller_ends: agent}   # the tool's sentence
      - name: HandoffData on Sunday at noon
        start: {via: handoff_data, to: auto}
        expect: {refused: true, caller_heard: [], caller_ends: agent}
    """)
    code, out, err = run_scenarios(path)
    assert code == 0, out + err
    assert "3 passed, 0 failed, 0 errors" in out
    assert f"refused: {CLOSED}" in out
    assert "refused 'NOBODY CAN TAKE' -> agent" in out


def test_an_unexpected_refusal_or_an_unexpected_transfer_fails_saying_why(scenario_file, run_scenarios, tmp_path):
    path = scenario_file(HEAD + """\
      - name: expects the front desk on Sunday
        start: {to: auto, reason: tents}
        expect: {outcome: transfer-success, path: [front_desk], caller_ends: front_desk}
      - name: expects a refusal on Monday morning
        clock: 2026-11-23T10:00:00-05:00
        recipients: {front_desk: {does: busy}}
        start: {to: front_desk}
        expect: {refused: true}
      - name: expects other words
        start: {via: handoff_data, to: auto}
        expect: {refused: on holiday, caller_ends: agent}
    """)
    junit = tmp_path / "scenarios.xml"
    code, out, err = run_scenarios(path, "--junit", junit)
    assert code == 1, out + err
    assert "0 passed, 3 failed, 0 errors" in out
    # The refusal in the service's words, instead of an outcome and a path.
    assert f"  - expected transfer-success, but the service refused the transfer: POST /api/calls/{{sid}}/transfers " \
           f"answered 422: {CLOSED} (no rule matched" in out
    assert "  - caller_ends: expected front_desk, but the caller is back with the agent" in out
    assert "  - path:" not in out and "  - outcome:" not in out
    # A transfer that started when a refusal was expected: what happened instead, with its timeline.
    assert "  - refused: expected the service to refuse the transfer, but it started " \
           "(got transfer-failed-connection-error, path [front_desk])" in out
    assert "timeline of tr_" in out
    assert "  - refused: expected a refusal saying 'on holiday', got: the agent's HandoffData was refused: " \
           f"{CLOSED}" in out
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["expects the front desk on Sunday"].find("failure")
    assert "the service refused the transfer" in failure.get("message")
