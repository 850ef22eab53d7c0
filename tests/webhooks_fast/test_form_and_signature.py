"""A webhook's body is parsed once, as werkzeug parses it, and signed-checked with one HMAC, as twilio-python
computes it (RequestValidator.compute_signature over the multi-valued form)."""
from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, urlencode

import pytest
from flask import Flask, request
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from blueprints.security import TwilioSignature
from blueprints.twilio_form import form_dict, form_pairs, parse_pairs, query_dict
from tests.conftest import AUTH_TOKEN

EXAMPLES = settings(max_examples=400, derandomize=True, deadline=None, database=None)
# Raw bodies as a client may send them: escapes valid and not (%C3 alone, %ZZ), &, =, + and their escapes.
RAW = st.lists(st.one_of(st.sampled_from(["&", "=", "+", "%", "%26", "%3D", "%3d", "%2B", "%20", "%C3%A9", "%C3",
                                          "%A9", "%E2%82", "%ZZ", "%0", "%00", "%F0%9F%8E%A7", "a", "B", "é", ";"]),
                         st.text(max_size=4)), max_size=20).map("".join)
PAIRS = st.lists(st.tuples(st.sampled_from(["CallSid", "From", "To", "Digits", "A", "a", "b", ""]),
                           st.text(max_size=8)), max_size=8)
app = Flask(__name__)


@EXAMPLES
@given(body=RAW)
def test_parse_pairs_is_parse_qsl_as_werkzeug_calls_it(body):
    assert parse_pairs(body) == parse_qsl(body, keep_blank_values=True, errors="werkzeug.url_quote")


@EXAMPLES
@given(body=st.one_of(RAW.map(str.encode), st.binary(max_size=20)),
       content_type=st.sampled_from(["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; "
                                     "charset=UTF-8", "Application/X-WWW-Form-Urlencoded", "text/plain",
                                     "application/json", ""]),
       query=RAW)
def test_the_form_and_query_are_what_werkzeug_gives(body, content_type, query):
    headers = {"Content-Type": content_type} if content_type else {}
    with app.test_request_context("/voice/x", method="POST", data=body, headers=headers, query_string=query):
        assert form_pairs() == list(request.form.items(multi=True))
        assert form_dict() == request.form.to_dict(flat=True)
        assert query_dict() == request.args.to_dict(flat=True)


@EXAMPLES
@given(pairs=PAIRS, path=st.sampled_from(["/voice/incoming", "/voice/transfers/tr_1/dial-status?c=CA1&a=0"]))
def test_the_signature_is_twilios(pairs, path):
    base = "https://handoff.example.com"
    expected = RequestValidator(AUTH_TOKEN).compute_signature(base + path, MultiDict(pairs))
    signature = TwilioSignature(AUTH_TOKEN, base)
    assert signature.digest(base + path, pairs).decode() == expected
    assert signature.valid(path, pairs, expected)
    assert not signature.valid(path, pairs + [("Extra", "1")], expected)


@pytest.mark.parametrize("base,variant", [("http://127.0.0.1:5000", "http://127.0.0.1"),
                                          ("https://h.example.com", "https://h.example.com:443"),
                                          ("http://h.example.com", "http://h.example.com:80")])
def test_the_url_with_or_without_its_port_is_accepted_as_by_validate(base, variant):
    form, path = {"CallSid": "CA" + "ab" * 16, "From": "+14155550100"}, "/voice/incoming"
    signature = TwilioSignature(AUTH_TOKEN, base)
    validator = RequestValidator(AUTH_TOKEN)
    for url in (base, variant):
        good = validator.compute_signature(url + path, form)
        assert validator.validate(base + path, form, good) and signature.valid(path, list(form.items()), good)
    forged = validator.compute_signature("https://evil.example.com" + path, form)
    assert not validator.validate(base + path, form, forged)
    assert not signature.valid(path, list(form.items()), forged)
    assert not signature.valid(path, list(form.items()), "")
    assert not signature.valid(path, list(form.items()), "\udcff\u00e9")


def test_a_valid_webhook_costs_one_hmac(monkeypatch, service_env):
    from tests.apps import built_app

    computed = []
    real = hmac.new
    monkeypatch.setattr(hmac, "new", lambda *a, **k: computed.append(a[1]) or real(*a, **k))
    form = {"CallSid": "CA" + "ab" * 16, "AccountSid": "AC" + "feedface" * 4, "CallStatus": "in-progress"}
    headers = {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(
        service_env["PUBLIC_BASE_URL"] + "/voice/status", form)}
    with built_app(service_env) as flask_app:
        computed.clear()
        response = flask_app.test_client().post("/voice/status", data=form, headers=headers)
    assert response.status_code == 204
    assert len(computed) == 1 and computed[0].startswith(service_env["PUBLIC_BASE_URL"].encode())


def test_a_repeated_parameter_is_signed_with_all_its_values(client, service_env):
    """Twilio signs every value of a repeated name (RequestValidator over a MultiDict): so do we."""
    pairs = [("CallSid", "CA" + "ab" * 16), ("AccountSid", "AC" + "feedface" * 4), ("CallStatus", "in-progress"),
             ("Extra", "b"), ("Extra", "a")]
    url = service_env["PUBLIC_BASE_URL"] + "/voice/status"
    signed = RequestValidator(AUTH_TOKEN).compute_signature(url, MultiDict(pairs))
    first_only = RequestValidator(AUTH_TOKEN).compute_signature(url, dict(reversed(pairs)))
    post = lambda signature: client.post("/voice/status", data=urlencode(pairs), headers={
        "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}).status_code
    assert (post(signed), post(first_only)) == (204, 403)
