"""The scenario runner end to end, on the session's local stack (examples/recipients.yaml)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

BILLING = """\
    recipients: {recipients}
    caller:
      variables: {intent: billing, account_id: A123456}
    scenarios:
"""


def test_sunday_night_takes_the_closed_route_and_monday_morning_the_open_one(scenario_file, run_scenarios):
    path = scenario_file(BILLING + """\
      - name: Sunday 22:00, billing is closed
        clock: 2026-11-22T22:00:00-05:00      # Sunday 22:00 in New York
        recipients:
          billing_voicemail: {does: voicemail, greeting: 1}
        expect:
          outcome: transfer-success
          path: [billing_voicemail]
          heard: {billing_desk: nothing}
          caller_ends: billing_voicemail
      - name: Monday 10:00, the desk accepts
        clock: 2026-11-23T10:00:00-05:00      # Monday 10:00 in New York
        start: {via: tool, to: auto, reason: a double charge}
        expect:
          outcome: transfer-success
          path: [billing_desk]
          heard:
            billing_desk: ["Billing call about account A123456", "a double charge"]
            billing_voicemail: nothing
          caller_heard: [music, bridged]
          max_hold_seconds: 15
          caller_ends: billing_desk
    """)
    code, out, err = run_scenarios(path)
    assert code == 0, out + err
    assert "2 passed, 0 failed, 0 errors" in out
    assert "Sunday 22:00, billing is closed" in out and "success [billing_voicemail]" in out
    assert "success [billing_desk]" in out


def test_a_wrong_expectation_fails_with_the_timeline_what_each_party_heard_and_junit(
        scenario_file, run_scenarios, tmp_path):
    path = scenario_file(BILLING + """\
      - name: expects the wrong outcome
        clock: 2026-11-23T10:00:00-05:00
        recipients:
          billing_desk: {does: accepts}
        start: {via: handoff_data, to: auto}
        expect:
          outcome: transfer-failed-timeout
          heard: {billing_desk: nothing}
      - name: passes
        clock: 2026-11-23T10:00:00-05:00
        recipients:
          billing_desk: {does: busy}
          billing_voicemail: {does: voicemail}
        start: {to: billing_voicemail}
        expect:
          outcome: transfer-success
          path: [billing_voicemail]
    """)
    junit = tmp_path / "reports" / "scenarios.xml"
    code, out, err = run_scenarios(path, "--junit", junit)
    assert code == 1, out + err
    assert "1 passed, 1 failed, 0 errors" in out
    failure = out[out.index("FAIL scenarios.yaml: expects the wrong outcome") if "FAIL scenarios.yaml" in out
                  else out.index("FAIL "):]
    assert "outcome: expected transfer-failed-timeout, got transfer-success" in failure
    assert "heard.billing_desk: expected nothing, heard" in failure
    # The timeline: each event with its time offset, the leg's recipient and Twilio's evidence.
    assert "timeline of tr_" in failure and "rule billing" in failure
    for event in ("requested", "dialing", "leg-answered", "key-pressed", "outcome"):
        assert f"  {event} " in failure, event
    assert "call_status=in-progress" in failure and "digits=1" in failure and "billing_desk (CA" in failure
    # What each party heard: the caller, and the desk's whisper.
    assert "heard:\n    caller +1415555" in failure
    assert 'billing_desk (+14155550100), leg CA' in failure and "Billing call about account A123456" in failure

    suite = ET.parse(junit).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["passes"].find("failure") is None
    failed = cases["expects the wrong outcome"].find("failure")
    assert "outcome: expected transfer-failed-timeout" in failed.get("message")
    assert "timeline of tr_" in failed.text and "heard:" in failed.text
    assert cases["passes"].get("classname").endswith("scenarios.yaml")
