"""Twilio webhooks: the signature is checked on every one, and the fallback works with Redis down."""
from xml.etree import ElementTree

import pytest

from devtools.embedded_redis import start_embedded_redis

INCOMING = {"CallSid": "CA" + "ab" * 16, "AccountSid": "AC" + "feedface" * 4, "From": "+14155550100",
            "To": "+15005550006", "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}


@pytest.mark.parametrize("path", ["/voice/incoming", "/voice/status", "/voice/fallback", "/voice/agent-ended",
                                  "/voice/transfers/tr_x/dial-action?a=0", "/voice/transfers/tr_x/key?a=0"])
def test_forged_or_missing_signature_is_403(path, client, signer):
    forged = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
    assert client.post(path, data=INCOMING, headers=forged).status_code == 403
    assert client.post(path, data=INCOMING).status_code == 403


def test_signature_over_other_params_is_403(client, signer):
    headers = signer("/voice/incoming", INCOMING)
    tampered = {**INCOMING, "From": "+19005550100"}
    assert client.post("/voice/incoming", data=tampered, headers=headers).status_code == 403


def test_signed_incoming_call_connects_to_the_agent(client, signer, api):
    response = client.post("/voice/incoming", data=INCOMING, headers=signer("/voice/incoming", INCOMING))
    assert response.status_code == 200 and response.mimetype == "application/xml"
    root = ElementTree.fromstring(response.data)
    connect = root.find("Connect")
    assert connect.get("action").endswith("/voice/agent-ended")
    relay = connect.find("ConversationRelay")
    assert relay.get("url") == "wss://agent.example.com/relay"
    params = {p.get("name"): p.get("value") for p in relay.findall("Parameter")}
    assert params["call_sid"] == INCOMING["CallSid"]
    assert api("get", f"/api/calls/{INCOMING['CallSid']}").get_json()["from"] == "+14155550100"


def test_fallback_answers_valid_twiml_with_redis_stopped(service_env, tmp_path):
    from app import create_app

    redis = start_embedded_redis(tmp_path / "doomed")
    app = create_app({**service_env, "REDIS_URL": redis.url, "TRANSFER_CONFIG": ""})
    redis.stop()
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(service_env["TWILIO_AUTH_TOKEN"]).compute_signature(
        service_env["PUBLIC_BASE_URL"] + "/voice/fallback", INCOMING)
    response = app.test_client().post("/voice/fallback", data=INCOMING, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    root = ElementTree.fromstring(response.data)
    assert [child.tag for child in root] == ["Say", "Hangup"]


@pytest.mark.parametrize("field,value", [("From", "+1415\x00555"), ("From", "\x0b"), ("To", "+1500555\x1b0006"),
                                         ("From", "+14155550100\ufffe"), ("CallStatus", "ringing\x00")])
def test_control_characters_in_a_signed_form_are_400_never_broken_twiml(client, signer, field, value):
    form = {**INCOMING, "CallSid": "CA" + "cd" * 16, field: value}
    response = client.post("/voice/incoming", data=form, headers=signer("/voice/incoming", form))
    assert response.status_code == 400 and response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == "invalid_webhook" and set(error["fields"]) == {field}


def test_a_signed_form_missing_a_field_is_400_in_the_error_shape(client, signer):
    form = {k: v for k, v in INCOMING.items() if k != "From"}
    response = client.post("/voice/incoming", data=form, headers=signer("/voice/incoming", form))
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"] == {"From": ["Missing data for required field."]}


def test_unicode_caller_ids_still_make_well_formed_twiml(client, signer):
    form = {**INCOMING, "CallSid": "CA" + "ce" * 16, "From": "client:zoë<&>\"'"}
    response = client.post("/voice/incoming", data=form, headers=signer("/voice/incoming", form))
    assert response.status_code == 200
    ElementTree.fromstring(response.data)
