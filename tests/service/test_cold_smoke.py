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
