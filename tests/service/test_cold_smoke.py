"""First light: a cold transfer to a number that answers."""


def test_cold_transfer_to_number_bridges_caller(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.5})
    caller = phone()
    response = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "mode": "cold",
                                                                    "message": "Connecting you to billing."})
    assert response.status_code == 202, response.get_json()
    transfer = response.get_json()
    assert response.headers["Location"] == f"/api/transfers/{transfer['id']}"
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-success"
    events = [e["event"] for e in done["timeline"]]
    assert events[0] == "requested" and "dialing" in events and "bridged" in events
    heard = sim.heard(caller)
    assert any("Connecting you to billing" in (h.get("text") or "") for h in heard)


def test_every_timeline_event_is_logged_as_one_structured_line(sim, phone, api, wait_transfer, caplog):
    import json
    import logging

    caplog.set_level(logging.INFO, logger="handoff.timeline")
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing"}).get_json()
    wait_transfer(transfer["id"])

    def logged():
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "handoff.timeline"]
        mine = [line for line in lines if line["transfer"] == transfer["id"]]
        # Webhook-driven events are logged by this (web) process; worker events by the workers; the
        # end is the worker's one outcome line (tests/audit/test_outcome_log.py).
        return mine if {"bridged", "dial-ended"} <= {line["event"] for line in mine} else None

    # The line is written just after the webhook's transition, which the API can show first.
    mine = sim.wait_for(logged, timeout=5, message="timeline lines logged")
    assert all("at" in line for line in mine)
