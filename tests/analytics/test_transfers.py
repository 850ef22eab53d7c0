"""Real transfers through the simulator, then /api/analytics: its counts, rates and depth are theirs.

Each scenario dials a number of its own, so its destination row holds exactly that transfer; the
fallback chain uses configured recipients, so it is checked as the change it made to their rows."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


ACCEPTS, DECLINES, VOICEMAIL, NO_ANSWER, HOLD_HANGUP = (f"+1415555090{n}" for n in range(1, 6))
SCENARIOS = [
    # (recipient, its persona, caller persona, request extras, outcome)
    (ACCEPTS, {"kind": "human", "answer_after": 0.1, "press": "1", "press_after": 0.05}, None, {},
     "transfer-success"),
    (DECLINES, {"kind": "human", "answer_after": 0.1, "press": "2", "press_after": 0.05}, None, {},
     "transfer-screening-rejected"),
    (VOICEMAIL, {"kind": "voicemail", "answer_after": 0.1, "greeting_seconds": 0.2}, None, {},
     "transfer-failed-timeout"),
    (NO_ANSWER, {"kind": "no-answer"}, None, {"timeout": 2}, "transfer-failed-timeout"),
    (HOLD_HANGUP, {"kind": "no-answer"}, {"hangup_on_hold_after": 0.3}, {"timeout": 20}, "transfer-cancelled"),
]


def _report(api) -> dict:
    now = datetime.now(timezone.utc)
    query = {"since": (now - timedelta(hours=2)).isoformat(), "until": (now + timedelta(hours=1)).isoformat()}
    response = api("get", "/api/analytics", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _row(report: dict, group: str, key: str) -> dict | None:
    return next((r for r in report[f"by_{group}"] if r["key"] == key), None)


def _run_scenarios(sim, phone, api, wait_transfer) -> list[dict]:
    """Every scenario at once (a caller each); the transfers once decided."""
    started = []
    for n, (recipient, persona, caller_persona, extras, _) in enumerate(SCENARIOS):
        sim.add_persona({"address": recipient, **persona})
        caller = phone(f"+1415555091{n}", persona=caller_persona)
        response = api("post", f"/api/calls/{caller}/transfers", json={"to": recipient, "mode": "warm", **extras})
        assert response.status_code == 202, response.get_json()
        started.append(response.get_json()["id"])
    return [wait_transfer(t, lambda t: t["status"] == "completed" or t["outcome"] == "transfer-success", timeout=30)
            for t in started]


def test_each_destination_row_is_its_transfer(sim, phone, api, wait_transfer):
    outcomes = _run_scenarios(sim, phone, api, wait_transfer)
    assert [t["outcome"] for t in outcomes] == [s[-1] for s in SCENARIOS]
    report = _report(api)
    rows = {address: _row(report, "destination", address) for address, *_ in SCENARIOS}
    for address, *_, outcome in SCENARIOS:
        row = rows[address]
        assert row is not None, address
        assert row["transfers"] == 1 and row["attempts"] == 1 and row["outcomes"] == {outcome: 1}
        assert row["depth"] == {"distribution": {"1": 1}, "mean": 1.0}

    accepted = rows[ACCEPTS]
    assert accepted["results"]["accepted"] == 1 and accepted["rates"]["accept"] == 1.0
    assert accepted["time_to_answer"]["n"] == 1 and accepted["time_to_accept"]["n"] == 1
    answer, accept = accepted["time_to_answer"], accepted["time_to_accept"]
    assert 0 < answer["p50"] <= answer["p90"] and answer["p50"] <= accept["p50"] <= 5
    assert accepted["hold"]["n"] == 1 and accepted["hold"]["p50"] > 0
    assert accepted["hangup_on_hold"] == {"count": 0, "rate": 0.0}

    assert rows[DECLINES]["results"]["declined"] == 1 and rows[DECLINES]["rates"]["decline"] == 1.0
    assert rows[DECLINES]["time_to_accept"]["n"] == 0
    assert rows[VOICEMAIL]["results"]["voicemail"] == 1 and rows[VOICEMAIL]["rates"]["voicemail"] == 1.0
    assert rows[NO_ANSWER]["results"]["no-answer"] == 1 and rows[NO_ANSWER]["rates"]["no_answer"] == 1.0
    assert rows[NO_ANSWER]["time_to_answer"]["n"] == 0

    hung_up = rows[HOLD_HANGUP]
    assert hung_up["hangup_on_hold"] == {"count": 1, "rate": 1.0}
    assert hung_up["results"]["cancelled"] == 1 and hung_up["hold"]["n"] == 1
    for address in (ACCEPTS, DECLINES, VOICEMAIL, NO_ANSWER):
        assert rows[address]["hangup_on_hold"]["count"] == 0

    # The same transfers, seen from the other groupings and over the day.
    assert report["overall"]["transfers"] >= 5 and report["overall"]["hangup_on_hold"]["count"] >= 1
    assert _row(report, "mode", "warm")["attempts"] >= 5
    assert sum(r["transfers"] for r in report["by_hour_of_day"]) == report["overall"]["transfers"]
    assert sum(p["transfers"] for p in report["series"]) == report["overall"]["transfers"]


def test_fallback_depth(sim, phone, api, wait_transfer):
    """Tried, retried (busy both times), then the fallback accepts: three attempts, depth 3."""
    sim.add_persona({"address": "+14155550151", "kind": "busy"})
    sim.add_persona({"address": "+14155550152", "kind": "human", "answer_after": 0.1, "press": "1",
                     "press_after": 0.05})
    before = _report(api)
    caller = phone("+14155550919")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_first"}).get_json()
    done = wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success", timeout=30)
    assert done["outcome"] == "transfer-success"
    after = _report(api)

    def change(group, key, pick):
        old = _row(before, group, key)
        return pick(_row(after, group, key)) - (pick(old) if old else 0)

    assert change("destination", "warm_first", lambda r: r["attempts"]) == 2
    assert change("destination", "warm_first", lambda r: r["results"]["busy"] + r["results"]["failed"]) == 2
    assert change("destination", "warm_first", lambda r: r["transfers"]) == 0
    assert change("destination", "warm_backup", lambda r: r["attempts"]) == 1
    assert change("destination", "warm_backup", lambda r: r["results"]["accepted"]) == 1
    # The transfer counts once, under its final destination, three attempts deep.
    assert change("destination", "warm_backup", lambda r: r["transfers"]) == 1
    assert change("destination", "warm_backup", lambda r: r["depth"]["distribution"].get("3", 0)) == 1
