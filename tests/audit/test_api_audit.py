"""Every state-changing API request is in the audit log: which token (by its label), what, when, from where."""
from __future__ import annotations

import uuid

from tests.conftest import API_TOKEN

from .conftest import BOT_TOKEN, OPS_TOKEN


def _sid() -> str:
    return "CA" + uuid.uuid4().hex


def _entries(call, **query) -> list[dict]:
    response = call("get", "/api/audit", query_string={"limit": 500, **query})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_transfer_request_cancel_and_variables_are_recorded_with_the_token_label(sim, phone, as_token):
    sim.add_persona({"address": "+14155550150", "kind": "human", "answer_after": 30})
    caller = phone("+14155550931")
    ops, bot = as_token(OPS_TOKEN), as_token(BOT_TOKEN)
    assert ops("put", f"/api/calls/{caller}/variables", json={"variables": {"account": "A1"}}).status_code == 200
    created = ops("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk", "mode": "warm"},
                  headers={"X-Forwarded-For": "203.0.113.7"})
    assert created.status_code == 202, created.get_json()
    transfer_id = created.get_json()["id"]
    cancelled = bot("post", f"/api/transfers/{transfer_id}/cancel")
    assert cancelled.status_code == 200, cancelled.get_json()

    mine = [e for e in _entries(ops) if e["target"] in (caller, transfer_id)]
    by_action = {e["action"]: e for e in mine}
    assert [e["action"] for e in mine] == ["transfer-cancel", "transfer-request", "call-variables"]  # newest first
    variables = by_action["call-variables"]
    assert variables["actor"] == "ops" and variables["target"] == caller and variables["address"] == "127.0.0.1"
    assert variables["detail"] == {"method": "PUT", "path": f"/api/calls/{caller}/variables", "status": 200}
    request = by_action["transfer-request"]
    assert request["actor"] == "ops" and request["address"] == "203.0.113.7"     # ProxyFix: the client's address
    assert request["detail"]["transfer_id"] == transfer_id and request["detail"]["status"] == 202
    cancel = by_action["transfer-cancel"]
    assert cancel["actor"] == "agent-bot" and cancel["target"] == transfer_id and cancel["detail"]["status"] == 200
    assert all(e["at"].endswith("Z") and e["id"].split("-")[0].isdigit() for e in mine)


def test_unlabelled_tokens_are_token_1_and_token_2(client):
    sid = _sid()
    for token in (API_TOKEN, "second-token-abcdefgh"):
        response = client.put(f"/api/calls/{sid}/variables", json={"variables": {"a": "b"}},
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 404
    entries = _entries(lambda m, p, **kw: client.get(p, headers={"Authorization": f"Bearer {API_TOKEN}"}, **kw))
    assert [e["actor"] for e in entries if e["target"] == sid] == ["token-2", "token-1"]


def test_refused_and_failed_requests(as_token):
    """A request refused at authentication is not recorded (anyone could flood the log); one that
    authenticated is, whatever it answered; reads are not."""
    ops = as_token(OPS_TOKEN)
    refused, missing, read = _sid(), _sid(), _sid()
    assert as_token("not-a-token-0000000000")("put", f"/api/calls/{refused}/variables",
                                             json={"variables": {}}).status_code == 401
    assert ops("put", f"/api/calls/{missing}/variables", json={"variables": {"a": "1"}}).status_code == 404
    assert ops("post", f"/api/calls/{missing}/transfers", json={"to": 5}).status_code == 422
    assert ops("get", f"/api/calls/{read}").status_code == 404
    targets = [(e["target"], e["action"], e["detail"].get("status"), e["detail"].get("error")) for e in _entries(ops)]
    assert not [t for t in targets if t[0] in (refused, read)]
    assert [t for t in targets if t[0] == missing] == [(missing, "transfer-request", 422, "invalid_request"),
                                                       (missing, "call-variables", 404, "not_found")]


def test_tool_calls_are_recorded_with_the_call_they_name(as_token):
    bot = as_token(BOT_TOKEN)
    flat, wrapped = _sid(), _sid()
    first = bot("post", "/api/tools/transfer_call", json={"call_sid": flat, "destination": "billing", "reason": "x"})
    second = bot("post", "/api/tools/transfer_call",
                 json={"arguments": {"call_sid": wrapped, "destination": "billing", "reason": "x"}})
    entries = {e["target"]: e for e in _entries(bot, action="tool") if e["target"] in (flat, wrapped)}
    assert entries[flat]["action"] == "tool-transfer-call" and entries[flat]["actor"] == "agent-bot"
    assert entries[flat]["detail"]["status"] == first.status_code
    assert entries[wrapped]["detail"]["status"] == second.status_code


def test_the_token_itself_is_never_stored_nor_logged(as_token, labelled_app, caplog):
    ops = as_token(OPS_TOKEN)
    # A token pasted where an id goes (a path the audit log records) is redacted, not stored.
    assert ops("post", f"/api/transfers/{OPS_TOKEN}/cancel").status_code == 404
    assert ops("post", "/api/tools/transfer_call", json={"call_sid": BOT_TOKEN, "destination": "x"}).status_code == 422
    runtime = labelled_app.extensions["handoff"]
    raw = b" ".join(k + b"=" + v for _, fields in runtime.redis.xrange(runtime.store.keys.audit())
                    for k, v in fields.items())
    for secret in (OPS_TOKEN, BOT_TOKEN, API_TOKEN, "second-token-abcdefgh"):
        assert secret.encode() not in raw
        assert secret not in caplog.text
    redacted = [e for e in _entries(ops) if "[redacted]" in e["detail"].get("path", "")]
    assert redacted and redacted[0]["target"] == "[redacted]" and redacted[0]["actor"] == "ops"


def test_the_audit_query_is_validated(as_token):
    ops = as_token(OPS_TOKEN)
    for query, field in (({"limit": 0}, "limit"), ({"limit": "many"}, "limit"), ({"before": "yesterday"}, "before"),
                         ({"action": "Not An Action"}, "action"), ({"actor": "ops"}, "actor")):
        response = ops("get", "/api/audit", query_string=query)
        assert response.status_code == 422, (query, response.get_json())
        assert field in response.get_json()["error"]["fields"]
    assert as_token("nope-nope-nope-nope-nope")("get", "/api/audit").status_code == 401


def test_pages_follow_next_before_newest_first(as_token):
    ops = as_token(OPS_TOKEN)
    sids = [_sid() for _ in range(4)]
    for sid in sids:
        ops("put", f"/api/calls/{sid}/variables", json={"variables": {"a": "1"}})
    seen, before = [], None     # three pages of one: each has a next (the fourth entry at least)
    while len(seen) < 3:
        response = ops("get", "/api/audit", query_string={"limit": 1, "action": "call-variables",
                                                          **({"before": before} if before else {})})
        body = response.get_json()
        assert len(body["items"]) == 1 and body["next_before"] == body["items"][0]["id"]
        assert response.headers["Link"].endswith(f'before={body["next_before"]}>; rel="next"')
        seen.append(body["items"][0]["target"])
        before = body["next_before"]
    assert seen == list(reversed(sids))[:3]
    # The end: the last page says there is nothing after it.
    last = ops("get", "/api/audit", query_string={"limit": 500, "action": "call-variables"}).get_json()
    while last["next_before"]:
        last = ops("get", "/api/audit", query_string={"limit": 500, "action": "call-variables",
                                                      "before": last["next_before"]}).get_json()
    assert "Link" not in ops("get", "/api/audit", query_string={"before": "0-1"}).headers


def test_the_openapi_document_describes_get_api_audit(api):
    document = api("get", "/api/openapi.json").get_json()
    operation = document["paths"]["/api/audit"]["get"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"limit", "before", "action"}
    assert operation["security"] == [{"bearer": []}]
    assert {"200", "401", "422"} <= set(operation["responses"])
    assert "AuditPage" in document["components"]["schemas"]


def test_the_inspector_reads_the_log_with_its_session_and_its_sign_ins_are_recorded(labelled_app, as_token):
    browser = labelled_app.test_client()
    assert browser.get("/inspector/audit.json").status_code == 401
    assert browser.post("/inspector/login", data={"token": OPS_TOKEN},
                        headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 303
    page = browser.get("/inspector/audit.json", query_string={"action": "inspector"})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    login = next(e for e in page.get_json()["items"] if e["address"] == "198.51.100.4")
    assert login["action"] == "inspector-login" and login["actor"] == "ops"
    with browser.session_transaction("/inspector/") as session:   # the cookie's path
        csrf = session["csrf"]
    assert browser.post("/inspector/logout", data={"csrf_token": csrf},
                        headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 303
    # Wrong tokens from one address: recorded once a minute, so a flood cannot push real entries out.
    address = f"198.51.100.{uuid.uuid4().int % 200 + 20}"
    for _ in range(3):
        assert labelled_app.test_client().post("/inspector/login", data={"token": "wrong-token-0123456789"},
                                               headers={"X-Forwarded-For": address}).status_code == 401
    entries = _entries(as_token(BOT_TOKEN), action="inspector")
    signed = [e["action"] for e in entries if e["address"] == "198.51.100.4"]
    assert signed[:2] == ["inspector-logout", "inspector-login"]
    failed = [e for e in entries if e["address"] == address]
    assert [(e["action"], e["actor"]) for e in failed] == [("inspector-login-failed", "-")]
