"""GET /healthz says when the deadlines' sweeper (and so every timeout and recovery) is not running."""
import uuid


def test_healthz_is_ok_while_workers_sweep(client, workers, sim):
    body = sim.wait_for(lambda: (r := client.get("/healthz")).status_code == 200 and r.get_json(), timeout=15,
                        message="healthy")
    assert body["sweeper_seen_seconds_ago"] < 10 and body["problems"] == []


def test_healthz_is_503_naming_the_sweeper_when_none_has_heartbeated(service_env):
    from app import create_app

    lonely = create_app({**service_env, "REDIS_KEY_PREFIX": f"lonely-{uuid.uuid4().hex[:8]}"})
    response = lonely.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["sweeper"] is None
    assert any("sweeper" in problem for problem in body["problems"])
