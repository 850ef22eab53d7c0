"""The REST API's contract: bearer tokens, one error shape, 422 naming the field, 404s."""
import pytest


def test_missing_or_wrong_token_is_401(client):
    response = client.get("/api/transfers/tr_nope")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/api/transfers/tr_nope", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401


def test_any_configured_token_is_accepted(client):
    response = client.get("/api/transfers/tr_nope", headers={"Authorization": "Bearer second-token-abcdefgh"})
    assert response.status_code == 404


@pytest.mark.parametrize("body,field", [
    ({}, "to"),
    ({"to": "billing", "mode": "lukewarm"}, "mode"),
    ({"to": "billing", "timeout": 0}, "timeout"),
    ({"to": "billing", "variables": {"bad name": "x"}}, "variables"),
    ({"to": "billing", "final": "sometimes"}, "final"),
    ({"to": "billing", "surprise": 1}, "surprise"),
    ({"to": "billing", "context": {"transcript": [{"role": "caller"}]}}, "context.transcript.0.text"),
])
def test_bad_transfer_request_is_422_naming_the_field(body, field, phone, api):
    caller = phone()
    response = api("post", f"/api/calls/{caller}/transfers", json=body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and field in error["fields"], error
    # Nothing was stored for the call.
    assert api("get", f"/api/calls/{caller}").get_json()["transfers"] == []


def test_non_json_body_is_422(phone, api):
    caller = phone()
    response = api("post", f"/api/calls/{caller}/transfers", data="to=billing",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 422 and "_body" in response.get_json()["error"]["fields"]


def test_unknown_call_and_transfer_are_404(api):
    unknown_call = "CA" + "0" * 32
    assert api("post", f"/api/calls/{unknown_call}/transfers", json={"to": "billing"}).status_code == 404
    assert api("get", f"/api/calls/{unknown_call}").status_code == 404
    assert api("get", "/api/calls/not-a-sid").status_code == 404
    assert api("get", "/api/transfers/tr_missing").status_code == 404
    assert api("post", "/api/transfers/tr_missing/cancel").status_code == 404


def test_caller_id_cannot_be_spoofed(phone, api):
    caller = phone()
    response = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "caller_id": "+14155559999"})
    assert response.status_code == 422 and "caller_id" in response.get_json()["error"]["fields"]


def test_call_view_lists_transfers_oldest_first(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550101", "kind": "busy"})
    caller = phone()
    first = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing"}).get_json()
    wait_transfer(first["id"])
    from .helpers import back_with_agent

    back_with_agent(sim, caller)
    second = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing"}).get_json()
    wait_transfer(second["id"])
    view = api("get", f"/api/calls/{caller}").get_json()
    assert [t["id"] for t in view["transfers"]] == [first["id"], second["id"]]


def test_healthz_reports_redis_queue_and_workers(client, workers, sim):
    sim.wait_for(lambda: client.get("/healthz").status_code == 200, timeout=10, message="healthy")
    body = client.get("/healthz").get_json()
    assert body["redis"] == "ok" and body["workers"] >= 1 and body["queue_depth"] is not None


def test_closed_recipient_is_refused_with_the_reason(sim, phone, api):
    caller = phone()
    response = api("post", f"/api/calls/{caller}/transfers", json={"to": "closed_desk"})
    assert response.status_code == 422
    message = response.get_json()["error"]["message"]
    assert message.startswith("nobody can take this call now") and "closed for renovation" in message
    assert api("get", f"/api/calls/{caller}").get_json()["transfers"] == []
