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


# --- hostile bodies: every /api route, enumerated from the app ------------------------------------

UNKNOWN_CALL = "CA" + "0" * 32


def _body_routes(app, api):
    """(method, url) of every POST/PUT /api route whose view reads a body (an empty body is refused)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        url = rule.rule.replace("<call_sid>", UNKNOWN_CALL).replace("<transfer_id>", "tr_missing")
        for method in sorted(rule.methods & {"POST", "PUT"}):
            empty = api(method.lower(), url, data=b"", content_type="application/json")
            if empty.status_code == 422:
                routes.append((method, url))
    return routes


def _assert_error_shape(response):
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}, error
    # Keys keep the order they were written in (app.json.sort_keys = False).
    text = response.get_data(as_text=True)
    assert text.index('"code"') < text.index('"message"') < text.index('"fields"')
    return error


HOSTILE = {
    "nested 1,000 deep": b"[" * 1000 + b"]" * 1000,
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "objects 1,000 deep": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "nested inside a field": b'{"to": "billing", "variables": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "array": b"[]", "string": b'"to"', "number": b"1", "null": b"null", "true": b"true",
    "invalid UTF-8": b'{"to": "\xff\xfe"}', "UTF-16": '{"to": "billing"}'.encode("utf-16"),
    "NaN": b'{"to": "billing", "timeout": NaN}', "Infinity": b'{"timeout": 1e999}',
    "a 5,000-digit number": b'{"timeout": 1' + b"0" * 5000 + b"}",
    "truncated": b'{"to": "bil', "empty": b"",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_are_422_on_every_api_route(app, api, name):
    routes = _body_routes(app, api)
    assert {m for m, _ in routes} == {"POST", "PUT"} and len(routes) >= 4, routes
    for method, url in routes:
        response = api(method.lower(), url, data=HOSTILE[name], content_type="application/json")
        assert response.status_code == 422, (method, url, response.get_data()[:300])
        error = _assert_error_shape(response)
        fields = error["fields"]
        assert "_body" in fields or url.endswith("/transfers") and "variables" in fields, (url, error)


def test_bodies_over_max_request_bytes_are_413_in_the_error_shape(app, api, service_env):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 256 * 1024              # MAX_REQUEST_BYTES' default
    big = b'{"to": "' + b"x" * limit + b'"}'
    for rule in app.url_map.iter_rules():
        for method in rule.methods & {"POST", "PUT"}:
            url = rule.rule.replace("<call_sid>", UNKNOWN_CALL).replace("<transfer_id>", "tr_missing")
            response = api(method.lower(), url, data=big, content_type="application/json")
            assert response.status_code == 413, (method, url)
            error = _assert_error_shape(response)
            assert error["code"] == "request_entity_too_large" and "MAX_REQUEST_BYTES" in error["message"]


def test_at_most_50_variables(api):
    many = {f"v{i}": "x" for i in range(51)}
    for method, url, body in (("post", f"/api/calls/{UNKNOWN_CALL}/transfers", {"to": "billing", "variables": many}),
                              ("put", f"/api/calls/{UNKNOWN_CALL}/variables", {"variables": many}),
                              ("post", "/api/routing/explain", {"variables": many})):
        response = api(method, url, json=body)
        assert response.status_code == 422 and set(response.get_json()["error"]["fields"]) == {"variables"}
        assert "at most 50" in response.get_json()["error"]["fields"]["variables"][0]
    fifty = dict(list(many.items())[:50])
    assert api("post", "/api/routing/explain", json={"variables": fifty}).status_code == 200


BAD_TEXT = ["\ud800", "a\udfffb", "\x00", "nul\x00here", "\x1b[2J", "\x7f", "\ufffe"]
FIELDS = {   # field -> (body builder, the name the error must carry)
    "to": (lambda v: {"to": v}, "to"),
    "reason": (lambda v: {"to": "billing", "reason": v}, "reason"),
    "summary": (lambda v: {"to": "billing", "summary": v}, "summary"),
    "message": (lambda v: {"to": "billing", "message": v}, "message"),
    "caller_id": (lambda v: {"to": "billing", "caller_id": v}, "caller_id"),
    "mode": (lambda v: {"to": "billing", "mode": v}, "mode"),
    "variables key": (lambda v: {"to": "billing", "variables": {v: "x"}}, "variables"),
    "variables value": (lambda v: {"to": "billing", "variables": {"k": v}}, "variables"),
    "transcript text": (lambda v: {"to": "billing", "context": {"transcript": [{"text": v}]}},
                        "context.transcript.0.text"),
    "transcript role": (lambda v: {"to": "billing", "context": {"transcript": [{"role": v, "text": "hi"}]}},
                        "context.transcript.0.role"),
}


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("bad", BAD_TEXT, ids=[repr(b) for b in BAD_TEXT])
def test_surrogates_and_control_characters_are_422_naming_the_field(api, field, bad):
    build, name = FIELDS[field]
    response = api("post", f"/api/calls/{UNKNOWN_CALL}/transfers", json=build(bad))
    assert response.status_code == 422, response.get_data()[:300]
    assert name in _assert_error_shape(response)["fields"]


def test_line_breaks_are_fine_in_free_text_but_not_in_names(api):
    ok = api("post", "/api/routing/explain", json={"variables": {"note": "line one\nline two\ttabbed"}})
    assert ok.status_code == 200
    response = api("post", f"/api/calls/{UNKNOWN_CALL}/transfers", json={"to": "billing\n", "reason": "a\nb"})
    assert response.status_code == 422 and set(response.get_json()["error"]["fields"]) == {"to"}


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\x01key", "tab\tkey", "del\x7f", "c1\x85"])
def test_bad_idempotency_key_is_422_naming_it(api, key):
    for url in (f"/api/calls/{UNKNOWN_CALL}/transfers", "/api/tools/transfer_call"):
        body = {"to": "billing"} if url.endswith("/transfers") else {"call_sid": UNKNOWN_CALL, "destination": "billing"}
        response = api("post", url, json=body, headers={"Idempotency-Key": key})
        assert response.status_code == 422, (url, key)
        assert "Idempotency-Key" in response.get_json()["error"]["fields"]


def test_malformed_path_parameters_are_404(api):
    for url in ("/api/transfers/" + "x" * 300, "/api/transfers/%F0%9F%98%80", "/api/transfers/a%00b/context",
                "/api/calls/CA%00/variables", "/api/calls/" + "CA" + "a" * 33):
        method = "put" if url.endswith("/variables") else "get"
        response = api(method, url, json={"variables": {}})
        assert response.status_code == 404, url
        _assert_error_shape(response)


def test_an_idempotency_key_reused_with_another_body_is_422(sim, phone, api):
    sim.add_persona({"address": "+14155550101", "kind": "no-answer"})
    caller = phone("+14155550188")
    headers = {"Idempotency-Key": "tool-call-42"}
    first = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing"}, headers=headers)
    again = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing"}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json()["id"] == first.get_json()["id"]
    other = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing", "reason": "else"}, headers=headers)
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    api("post", f"/api/transfers/{first.get_json()['id']}/cancel")


def test_a_transfer_on_a_call_that_has_ended_is_409_naming_its_status(sim, phone, api):
    caller = phone("+14155550189")
    sim.hangup(caller)
    sim.wait_for(lambda: api("get", f"/api/calls/{caller}").get_json().get("status") == "completed", timeout=5,
                 message="call ended recorded")
    response = api("post", f"/api/calls/{caller}/transfers", json={"to": "billing"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "call_ended" and error["fields"]["call_status"] == ["completed"]
