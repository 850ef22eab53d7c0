"""Swimlanes built from real transfers (simulator, workers, the event stream), as the Inspector serves them."""
from __future__ import annotations

import pytest

from handoff.swimlanes import describe_outcome

from .conftest import sign_in

WARM = "+14155550150"

CASES = {
    "declined": ("warm_desk", {}, [{"address": WARM, "kind": "human", "answer_after": 0.1, "press": "2",
                                    "press_after": 0.05}],
                 {"warm_desk": "declined"}, "transfer-screening-rejected", "warm_desk pressed the decline key."),
    "voicemail": ("warm_desk", {}, [{"address": WARM, "kind": "voicemail", "answer_after": 0.1,
                                     "greeting_seconds": 0.2}],
                  {"warm_desk": "voicemail"}, "transfer-failed-timeout",
                  "A machine answered at warm_desk (AnsweredBy machine_start), so it never heard the whisper."),
    "cold busy": ("+14155550177", {"mode": "cold"}, [{"address": "+14155550177", "kind": "busy"}],
                  {"+14155550177": "busy"}, "transfer-failed-connection-error", "+14155550177's line was busy."),
    "parallel": ("trio", {}, [{"address": "+14155550161", "kind": "no-answer"},
                              {"address": "+14155550162", "kind": "human", "answer_after": 0.1, "press": "1",
                               "press_after": 0.05},
                              {"address": "+14155550163", "kind": "human", "answer_after": 5}],
                 {"trio_a": "cancelled", "trio_b": "bridged", "trio_c": "cancelled"}, "transfer-success",
                 "trio_b heard the whisper, accepted, and was connected with the caller."),
    "agent": ("retention_agent", {}, [], {"retention_agent": "connected"}, "transfer-success",
              "The call was handed to retention_agent with the conversation context."),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_party_gets_a_lane_with_its_state_and_the_outcome_in_words(case, app, sim, phone, api, wait_transfer):
    to, extra, personas, lanes, outcome, sentence = CASES[case]
    for persona in personas:
        sim.add_persona(persona)
    caller = phone("+14155550186")
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": to, **extra}).get_json()
    wait_transfer(transfer["id"], lambda t: t["outcome"] is not None)
    client = app.test_client()
    sign_in(client)

    def settled():
        data = client.get(f"/inspector/transfers/{transfer['id']}.json").get_json()
        states = {lane["label"]: lane["state"] for lane in data["lanes"] if lane["kind"] == "recipient"}
        return data if states == lanes else None

    data = sim.wait_for(settled, timeout=10, message=f"{case}: lanes {lanes}")
    assert [lane["kind"] for lane in data["lanes"][:2]] == ["caller", "agent"]
    assert data["lanes"][0]["sublabel"] == "+14155550186"
    assert data["outcome"]["outcome"] == outcome and data["outcome"]["sentence"] == sentence
    # The rows tell the same story as the heads: each lane's last recorded state is its state now.
    last = {}
    for row in data["rows"]:
        assert row["lane"] is None or row["lane"] in {lane["id"] for lane in data["lanes"]}
        last.update({lane_id: change["state"] for lane_id, change in row["states"].items()})
    assert all(last.get(lane["id"], lane["state"]) == lane["state"] for lane in data["lanes"])
    # In stream order; two processes' clocks may disagree by a millisecond or so.
    times = [row["t"] for row in data["rows"]]
    assert times[0] == 0 and all(later >= earlier - 0.05 for earlier, later in zip(times, times[1:]))
    screened = [lane for lane in data["lanes"] if lane["answered_by"] == "human"]
    assert all(lane["whisper"] for lane in screened)                      # a person heard the whisper
    assert all(not lane["whisper"] for lane in data["lanes"] if (lane["answered_by"] or "").startswith("machine"))
    sim.hangup(caller)


@pytest.mark.parametrize("outcome,detail,sentence", [
    ("transfer-cancelled", "cancelled through the API", "Cancelled through the API before anyone was connected."),
    ("transfer-cancelled", "caller hung up", "The caller hung up before the transfer connected."),
    ("transfer-failed-timeout", "no key pressed", "billing answered but pressed no key before the accept timeout."),
    ("transfer-failed-connection-error", "could not dial: 21211 invalid number",
     "The call to billing could not be placed: 21211 invalid number."),
    ("transfer-failed-timeout", "something new", "Timed out: something new."),
])
def test_an_outcome_and_its_detail_read_as_a_sentence(outcome, detail, sentence):
    assert describe_outcome(outcome, detail, destination="billing (+14155550101)")["sentence"] == sentence
