"""/metrics' access: open without METRICS_TOKEN, a bearer token when it is set (checked in-process)."""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "metrics-token-0123456789"


def test_metrics_is_open_without_a_token(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {"handoff_transfers", "handoff_queue_jobs", "handoff_redis_up"} <= names


def test_metrics_token_is_required_when_set(service_env):
    from app import create_app

    guarded = create_app({**service_env, "METRICS_TOKEN": METRICS_TOKEN}).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": METRICS_TOKEN},
                    {"Authorization": f"Basic {METRICS_TOKEN}"}):
        response = guarded.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response = guarded.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert list(text_string_to_metric_families(response.get_data(as_text=True)))
    # The API's tokens are not the metrics token.
    api_token = service_env["API_TOKEN"].split(",")[0]
    assert guarded.get("/metrics", headers={"Authorization": f"Bearer {api_token}"}).status_code == 401
