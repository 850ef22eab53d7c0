"""The demo on-call webhook (POST /demo/oncall), registered only with HANDOFF_DEMO=1."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from devtools.embedded_redis import free_port
from handoff.routing import RoutingError
from handoff.routing.dynamic import SIGNATURE_HEADER, sign

from .conftest import built_app, served

ROOT = Path(__file__).resolve().parents[2]
SECRET = "demo-test-secret-123"

DEMO_YAML = """
version: 1
timezone: America/New_York
recipients:
  - {{name: dave, type: number, number: "+14155550711", description: Dave}}
  - {{name: erin, type: number, number: "+14155550712", description: Erin}}
  - name: oncall_hook
    type: dynamic
    webhook: {{url: "{url}/demo/oncall", secret: "{secret}", timeout: 2}}
    description: Whoever is on call.
    fallback: dave
rotations:
  - name: oncall
    timezone: America/New_York
    start: 2026-01-05
    handover: "mon 09:00"
    shift_days: 7
    members: [dave, erin]
"""


@pytest.fixture(scope="module")
def demo(app, service_env, tmp_path_factory):
    """An app with HANDOFF_DEMO=1, served, whose dynamic recipient calls its own demo endpoint."""
    port = free_port()
    path = tmp_path_factory.mktemp("demo") / "recipients.yaml"
    path.write_text(DEMO_YAML.format(url=f"http://127.0.0.1:{port}", secret=SECRET))
    with built_app(service_env, TRANSFER_CONFIG=str(path), HANDOFF_DEMO="1") as flask_app:
        with served(flask_app, port):
            yield flask_app


def _signed(payload: dict, secret: str = SECRET) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    return body, {SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json"}


def _expected_on_call(flask_app) -> str:
    router = flask_app.extensions["handoff"].routing.current
    member, _ = router.config.rotations["oncall"].on_call(datetime.now(timezone.utc))
    return router.config.recipients[member].number


def test_demo_is_not_registered_without_handoff_demo(routing_app):
    assert routing_app.test_client().post("/demo/oncall", json={}).status_code == 404
    assert "demo" not in routing_app.blueprints


def test_signed_request_gets_the_number_on_call(demo):
    body, headers = _signed({"recipient": "oncall_hook", "timestamp": int(time.time()), "call_sid": "CA" + "1" * 32})
    response = demo.test_client().post("/demo/oncall", data=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["demo"] is True and answer["destination"] == _expected_on_call(demo)
    assert answer["name"] in ("dave", "erin")


@pytest.mark.parametrize("case", ["unsigned", "wrong-secret", "tampered", "stale", "not-dynamic", "not-json"])
def test_bad_requests_are_refused(demo, case):
    payload = {"recipient": "oncall_hook", "timestamp": int(time.time())}
    body, headers = _signed(payload)
    if case == "unsigned":
        headers.pop(SIGNATURE_HEADER)
    elif case == "wrong-secret":
        body, headers = _signed(payload, secret="not-the-secret")
    elif case == "tampered":
        body = body.replace(b"}", b", \"extra\": 1}")   # signed body, then changed
    elif case == "stale":
        body, headers = _signed({**payload, "timestamp": int(time.time()) - 3600})
    elif case == "not-dynamic":
        body, headers = _signed({**payload, "recipient": "dave"})
    elif case == "not-json":
        body = b"nope"
        headers[SIGNATURE_HEADER] = sign(SECRET, body)
    response = demo.test_client().post("/demo/oncall", data=body, headers=headers)
    assert response.status_code in (400, 401)
    assert "destination" not in response.get_json()


def test_router_resolves_the_dynamic_recipient_through_the_demo(demo):
    router = demo.extensions["handoff"].routing.current
    target = router.resolve_dynamic("oncall_hook", context={"call_sid": "CA" + "2" * 32, "variables": {}})
    assert target.address == _expected_on_call(demo) and target.recipient == "oncall_hook"


def test_a_wrong_secret_in_the_file_makes_resolution_fail(demo, service_env, tmp_path):
    # The service signs with the file's secret; a demo with another secret refuses: RoutingError.
    from handoff.routing import load_router

    url = demo.extensions["handoff"].routing.current.config.recipients["oncall_hook"].webhook.url
    path = tmp_path / "other.yaml"
    path.write_text(DEMO_YAML.format(url=url.rsplit("/demo/", 1)[0], secret="another-secret-456"))
    router = load_router(path, demo.extensions["handoff"].config.allow_list)
    with pytest.raises(RoutingError, match="HTTP 401"):
        router.resolve_dynamic("oncall_hook", context={"variables": {}})


def test_example_file_points_its_dynamic_recipient_at_the_demo(app, service_env):
    example = ROOT / "examples" / "recipients.yaml"
    with built_app(service_env, TRANSFER_CONFIG=str(example), HANDOFF_DEMO="1") as flask_app:
        router = flask_app.extensions["handoff"].routing.current
        hook = router.config.recipients["oncall_webhook"]
        assert hook.type == "dynamic" and hook.webhook.url.endswith("/demo/oncall")
        body, headers = _signed({"recipient": "oncall_webhook", "timestamp": int(time.time())},
                                secret=hook.webhook.secret)
        response = flask_app.test_client().post("/demo/oncall", data=body, headers=headers)
        assert response.status_code == 200, response.get_json()
        destination = response.get_json()["destination"]
        # an allowed number, or the name of the member on call (what the service accepts either way)
        assert destination in router.config.recipients or router.allow_list.allows(destination)
