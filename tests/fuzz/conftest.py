"""Hypothesis settings for the fuzz tests: reproducible (derandomized), bounded, no deadline.

The whole directory runs in well under a minute on 2 cores; FUZZ_EXAMPLES scales every test
(e.g. FUZZ_EXAMPLES=10 for a deeper local run).
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = max(1, int(os.environ.get("FUZZ_EXAMPLES", "1")))


def fuzz_settings(max_examples: int) -> settings:
    """Settings for one fuzz test: the same examples on every run, in CI and locally."""
    return settings(max_examples=max_examples * SCALE, derandomize=True, deadline=None, database=None,
                    print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


import pytest  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from tests.conftest import API_TOKEN, AUTH_TOKEN  # noqa: E402

INCOMING = {"AccountSid": "AC" + "feedface" * 4, "From": "+14155550100", "To": "+15005550006",
            "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}


@pytest.fixture(scope="module")
def sign(service_env):
    """sign(path_with_query, form) -> X-Twilio-Signature headers, as Twilio computes them."""
    validator = RequestValidator(AUTH_TOKEN)

    def _sign(url_path: str, form: dict) -> dict:
        return {"X-Twilio-Signature": validator.compute_signature(service_env["PUBLIC_BASE_URL"] + url_path, form)}

    return _sign


@pytest.fixture(scope="module")
def known(app, sign):
    """A call Handoff answered (through the signed webhook) and a transfer on it, for real path params."""
    client = app.test_client()
    call_sid = "CA" + os.urandom(16).hex()
    form = {**INCOMING, "CallSid": call_sid}
    assert client.post("/voice/incoming", data=form, headers=sign("/voice/incoming", form)).status_code == 200
    response = client.post(f"/api/calls/{call_sid}/transfers", json={"to": "+14155550100", "mode": "cold"},
                           headers={"Authorization": f"Bearer {API_TOKEN}"})
    transfer_id = response.get_json().get("id") if response.status_code == 202 else None
    return {"call_sid": call_sid, "transfer_id": transfer_id or "tr_" + "0" * 24}


def check_error_shape(response) -> None:
    """A 4xx/5xx answer is {"error": {"code": str, "message": str, "fields": {name: [str]}}}."""
    body = response.get_json(silent=True)
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), response.get_data()[:300]
    error = body["error"]
    assert isinstance(error.get("code"), str) and error["code"], error
    assert isinstance(error.get("message"), str) and error["message"], error
    assert isinstance(error.get("fields"), dict), error
    for name, messages in error["fields"].items():
        assert isinstance(name, str) and isinstance(messages, list) and all(isinstance(m, str) for m in messages)
