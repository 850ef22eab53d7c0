"""Spec conformance: every endpoint served is in Twilio's OAI file, accepts only its parameters and
returns every field its schema names. Also Messages."""

import ast
import inspect
import json

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from simulator import rest
from simulator.testing import load_spec
from conftest import ACCOUNT_SID, AUTH_TOKEN, NUMBER

SPEC = load_spec()
pytestmark = pytest.mark.skipif(SPEC is None, reason="../shared/twilio-oai/twilio_api_v2010.json is absent")


def _params_read(handler):
    """Parameter names a handler reads from the request (p.get('X'), p['X'], 'X' in p)."""
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(handler))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get" \
                and getattr(node.func.value, "id", None) == "p" and node.args and isinstance(node.args[0], ast.Constant):
            names.add(node.args[0].value)
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "p" \
                and isinstance(node.slice, ast.Constant):
            names.add(node.slice.value)
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Constant) \
                and any(getattr(c, "id", None) == "p" for c in node.comparators):
            names.add(node.left.value)
    return names


@pytest.mark.parametrize("route", sorted(rest.ROUTES), ids=lambda r: f"{r[0]} {r[1].split('{AccountSid}')[1]}")
def test_route_is_in_spec_and_reads_only_spec_params(route):
    method, template = route
    op = SPEC.operation(method, template)
    handler = getattr(rest, rest.ROUTES[route])
    read = _params_read(handler)
    for name in ("Muted", "Hold", "Coaching", "To", "From", "ParentCallSid", "Status", "FriendlyName"):
        # list filters are read through loops over literal tuples
        if f'"{name}"' in inspect.getsource(handler) and name in op.inputs():
            read.add(name)
    assert read <= set(op.inputs()), (op.operation_id, read - set(op.inputs()))


def _raw(sim, method, path, data=None):
    return requests.request(method, sim.url + path, data=data, params=data if method == "GET" else None,
                            auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=10)


def _check_fields(op, body):
    fields = SPEC.schema_fields(op.response_schema)
    records = body[op.list_key] if op.list_key else [body]
    for record in records:
        assert set(fields) <= set(record), (op.operation_id, set(fields) - set(record))
        for name, prop in SPEC.schemas[op.response_schema]["properties"].items():
            ref = prop.get("$ref")
            if ref and record[name] is not None:
                assert record[name] in SPEC.enum_values(ref.rsplit("/", 1)[-1]), (name, record[name])
    if op.list_key:
        for key in ("first_page_uri", "next_page_uri", "page", "page_size", "previous_page_uri", "start", "end", "uri"):
            assert key in body


def test_walk_every_endpoint(sim, client, receiver):
    """Exercise each served operation with the official client and check the response against the schema."""
    url = receiver.on("/answer", "<Response><Dial><Conference>walk</Conference></Dial></Response>")
    receiver.on("/hold", "<Response><Say>Holding</Say></Response>")
    call = client.calls.create(to="+14155550123", from_=NUMBER, url=url)
    sim.wait_for(lambda: sim.call(call.sid)["conference"] == "walk")
    conf = client.conferences.list(friendly_name="walk")[0]
    part = client.conferences(conf.sid).participants.create(from_=NUMBER, to="+14155550123", label="agent")
    msg = client.messages.create(to="+14155550123", from_=NUMBER, body="hello")
    ids = {"Sid": call.sid, "ConferenceSid": conf.sid, "CallSid": part.call_sid}
    bodies = {
        ("POST", "/Calls.json"): {"To": "+14155550123", "From": NUMBER, "Twiml": "<Response><Pause/></Response>"},
        ("POST", "/Calls/{Sid}.json"): {"StatusCallback": receiver.url + "/cb"},
        ("POST", "/Conferences/{Sid}.json"): {"AnnounceUrl": receiver.url + "/hold"},
        ("POST", "/Conferences/{ConferenceSid}/Participants.json"): {"To": "+14155550123", "From": NUMBER},
        ("POST", "/Conferences/{ConferenceSid}/Participants/{CallSid}.json"): {"Muted": "true"},
        ("POST", "/Messages.json"): {"To": "+14155550123", "From": NUMBER, "Body": "hi"},
    }
    seen = set()
    for (method, template), _ in sorted(rest.ROUTES.items(), key=lambda kv: kv[0][0] == "DELETE"):
        op = SPEC.operation(method, template)
        tail = template.split("{AccountSid}")[1]
        path_ids = dict(ids, Sid=msg.sid if "Messages" in tail else (conf.sid if "Conferences/{Sid}" in tail else call.sid))
        path = template.replace("{AccountSid}", ACCOUNT_SID)
        for key, value in path_ids.items():
            path = path.replace("{%s}" % key, value)
        resp = _raw(sim, method, path, bodies.get((method, tail)))
        assert resp.status_code == op.success_status, (method, path, resp.text)
        if resp.status_code != 204:
            _check_fields(op, resp.json())
        # strict mode: an unknown parameter is a 400 that names it
        bad = _raw(sim, method if method != "DELETE" else "GET", path if method != "DELETE" else path,
                   dict(bodies.get((method, tail)) or {}, Bogus="1"))
        if method != "DELETE":
            assert bad.status_code == 400 and "Bogus" in bad.json()["message"], (method, path, bad.text)
        seen.add((method, template))
    assert seen == set(rest.ROUTES)


def test_enum_value_rejected(sim, client):
    from twilio.base.exceptions import TwilioException

    with pytest.raises(TwilioException) as exc:  # list() wraps page errors in TwilioException
        client.conferences.list(status="running")
    assert "400" in str(exc.value) and "Status" in str(exc.value)
    resp = _raw(sim, "POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/CA{'0' * 32}.json", {"Status": "paused"})
    assert resp.status_code == 400 and "paused" in resp.json()["message"]
    body = resp.json()
    assert set(body) >= {"code", "message", "more_info", "status"}


def test_unserved_endpoint_is_404(sim):
    resp = _raw(sim, "GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Queues.json")
    assert resp.status_code == 404 and resp.json()["code"] == 20404


def test_messages_create_fetch_list(sim, client, receiver):
    cb = receiver.on("/sms-status", "")
    m = client.messages.create(to="+14155550123", from_=NUMBER, body="Your callback is booked", status_callback=cb)
    assert m.sid.startswith("SM") and m.status == "queued"
    sim.wait_for(lambda: client.messages(m.sid).fetch().status == "delivered")
    assert [x.sid for x in client.messages.list(to="+14155550123")] == [m.sid]
    sim.wait_for(lambda: len(receiver.requests_to("/sms-status")) == 2)
    assert [h["params"]["MessageStatus"] for h in receiver.requests_to("/sms-status")] == ["sent", "delivered"]
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to="bogus", from_=NUMBER, body="x")
    assert exc.value.code == 21211
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to="+14155550123", body="x")
    assert exc.value.code == 21603


def test_requests_log_shows_what_the_service_sent(sim, client):
    client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response/>", status_callback_event=["answered", "completed"],
                        status_callback="http://127.0.0.1:9/cb")
    req = [r for r in sim.requests() if r["method"] == "POST"][-1]
    assert req["path"].endswith("/Calls.json")
    assert req["params"]["StatusCallbackEvent"] == ["answered", "completed"]
