import json

from .conftest import MONDAY_10, ny


def test_explain_auto_lists_every_rule_with_conditions(router):
    out = router.explain(variables={"account_id": "A123", "intent": "billing"}, now=MONDAY_10)
    json.dumps(out)                                   # JSON-serialisable
    assert out["ok"] and out["error"] is None and out["selected_rule"] == "acct"
    rules = {r["rule"]: r for r in out["rules"]}
    assert [r["rule"] for r in out["rules"]] == ["vip", "es", "acct", "uk", "night"]
    assert rules["vip"]["matched"] is False and "vip is not set" in rules["vip"]["why"]
    acct = rules["acct"]
    assert acct["matched"] and acct["selected"]
    assert [c["ok"] for c in acct["conditions"]] == [True, True]
    assert acct["conditions"][0]["actual"] == "A123" and acct["conditions"][0]["source"] == "request"
    assert rules["night"]["during"]["open"] is False
    assert [r["name"] for r in out["recipients"]] == ["billing", "voicemail"]
    assert out["steps"][0]["targets"][0]["address"] == "+14155550100"
    assert out["settings"]["mode"] == "warm" and out["last_resort"] == "voicemail"
    assert any("open: inside weekly window mon-fri 09:00-17:00" in r for r in out["reasons"])
    assert out["variables"]["company"] == {"value": "Acme", "source": "file"}


def test_explain_closed_by_dated_closure(router):
    out = router.explain(variables={"account_id": "A123", "intent": "billing"}, now=ny(2026, 12, 25, 10))
    assert out["selected_rule"] == "acct"
    assert [r["name"] for r in out["recipients"]] == ["voicemail"]
    assert any("dated closure 2026-12-25 (Christmas)" in r for r in out["reasons"])


def test_explain_reports_skipped_members_and_later_rules(router):
    out = router.explain(variables={"vip": "yes"}, now=MONDAY_10)
    assert out["selected_rule"] is None and any(r == "no rule matched" for r in out["reasons"])
    assert [r["name"] for r in out["recipients"]] == ["alice", "bob", "voicemail"]


def test_explain_reports_error_instead_of_raising(router):
    out = router.explain(variables={"language": "es"}, now=MONDAY_10)
    assert out["ok"] is False and out["error"]["field"] == "variables.queue"
    assert out["selected_rule"] == "es"
    json.dumps(out)


def test_explain_named_destination(router):
    out = router.explain(variables={}, to="oncall", now=ny(2026, 3, 11, 12))
    assert out["rules"] == [] and out["recipients"][0]["name"] == "bob"
    assert any("override" in r for r in out["reasons"])


def test_explain_out_of_range_instants_name_at_instead_of_overflowing(router):
    from datetime import datetime, timedelta, timezone

    edges = [datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))), datetime(1, 1, 1, 0, 30),
             datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
             datetime(9999, 12, 31, 12, tzinfo=timezone.utc)]
    for at in edges:
        for to in ("auto", "oncall", "billing"):
            out = router.explain(variables={"account_id": "A123"}, now=at, to=to)
            json.dumps(out)
            assert out["ok"] is False and out["error"]["field"] == "at", (at, to, out["error"])
            assert "out of range" in out["error"]["message"]


def test_rotation_and_hours_work_at_the_far_ends_of_the_range(router):
    from datetime import datetime, timezone

    from handoff.routing.hours import EARLIEST, LATEST

    for at in (EARLIEST, LATEST, datetime(2, 1, 1, 0, 0, 1, tzinfo=timezone.utc)):
        for to in ("auto", "oncall", "billing", "team"):
            out = router.explain(variables={"account_id": "A123"}, now=at, to=to)
            assert out["error"] is None or out["error"]["field"] != "at", (at, to, out["error"])
