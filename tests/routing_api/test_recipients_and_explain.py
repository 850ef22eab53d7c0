"""GET /api/recipients (secrets masked, reload state) and POST /api/routing/explain."""
from __future__ import annotations

import json

import pytest


def _by_name(body: dict) -> dict:
    return {item["name"]: item for item in body["recipients"]}


def test_recipients_need_the_bearer_token(client):
    assert client.get("/api/recipients").status_code == 401


def test_recipients_mask_sip_credentials_of_the_fixture_file(api):
    response = api("get", "/api/recipients")
    assert response.status_code == 200
    listed = _by_name(response.get_json())
    pbx = listed["pbx_desk"]
    assert pbx["sip"]["password"] == "***" and pbx["sip"]["username"] == "***"
    assert pbx["sip"]["uri"] == "sip:desk@pbx.example.com"
    assert "s3cret" not in response.get_data(as_text=True)
    assert listed["billing"]["number"] == "+14155550101"
    assert listed["busy_pbx"]["sip"]["password"] is None     # nothing to mask


def test_recipients_list_everything_with_secrets_masked(rapi):
    response = rapi("get", "/api/recipients")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "pbx-user-secret" not in text and "pbx-password-secret" not in text
    body = response.get_json()
    listed = _by_name(body)
    assert set(listed) == {"ra_billing", "ra_spanish", "ra_front", "ra_line", "ra_area", "ra_pbx",
                            "ra_hidden"}
    assert listed["ra_pbx"]["sip"] == {"uri": "sip:<queue>@pbx.example.com",
                                       "headers": {"X-Account": "<account_id>"},
                                       "username": "***", "password": "***"}
    assert listed["ra_line"]["number"] == "+1415555<line>"     # the template, as written
    assert listed["ra_hidden"]["expose"] is False
    assert listed["ra_front"]["hours"] is not None and isinstance(listed["ra_front"]["open_now"], bool)
    assert listed["ra_spanish"]["languages"] == ["es"]
    config = body["config"]
    assert config["path"].endswith("tests/routing_api/recipients.yaml")
    assert config["generation"] >= 1 and config["last_error"] is None


def test_explain_auto_names_the_matching_rule_and_recipient(rapi):
    response = rapi("post", "/api/routing/explain", json={"variables": {"intent": "billing"}})
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True and body["to"] == "auto" and body["error"] is None
    assert body["selected_rule"] == "billing"
    assert [r["name"] for r in body["recipients"]] == ["ra_billing"]
    assert body["steps"][0]["targets"][0]["address"] == "+14155550701"
    traces = {t["rule"]: t for t in body["rules"]}
    assert traces["billing"]["matched"] and traces["billing"]["selected"]
    assert not traces["spanish"]["matched"] and "language is not set" in traces["spanish"]["why"]
    assert body["variables"]["intent"] == {"value": "billing", "source": "request"}
    assert body["settings"]["mode"] == "cold"
    assert any("rule 'billing' matched" in reason for reason in body["reasons"])


def test_explain_first_matching_rule_wins(rapi):
    body = rapi("post", "/api/routing/explain",
                json={"variables": {"intent": "billing", "language": "es"}}).get_json()
    assert body["selected_rule"] == "billing"
    assert [t["rule"] for t in body["rules"] if t["matched"]] == ["billing", "spanish"]


def test_explain_no_match_uses_the_files_fallback(rapi):
    # Monday 10:00 in New York: the front desk is open.
    body = rapi("post", "/api/routing/explain",
                json={"variables": {"intent": "weather"}, "at": "2026-11-23T10:00:00-05:00"}).get_json()
    assert body["ok"] and body["selected_rule"] is None
    assert body["at"] == "2026-11-23T10:00:00-05:00"
    assert [r["name"] for r in body["recipients"]] == ["ra_front", "ra_billing"]   # then its fallback


@pytest.mark.parametrize("at,expected", [
    # Monday, open: the target, its fallback, then the rule's fallback
    ("2026-11-23T10:00:00-05:00", ["ra_front", "ra_billing", "ra_spanish"]),
    ("2026-11-26T10:00:00-05:00", ["ra_spanish"]),                # Thanksgiving: rule's fallback
    ("2026-11-23T20:00:00-05:00", ["ra_spanish"]),                # after hours
])
def test_explain_at_a_given_time(rapi, at, expected):
    body = rapi("post", "/api/routing/explain", json={"variables": {"intent": "general"}, "at": at}).get_json()
    assert body["ok"] and body["selected_rule"] == "general"
    assert [r["name"] for r in body["recipients"] if not r.get("skipped")] == expected
    if at.startswith("2026-11-26"):
        assert any("Thanksgiving" in reason for reason in body["reasons"])


def test_explain_without_offset_is_refused(rapi):
    response = rapi("post", "/api/routing/explain", json={"at": "2026-11-23T10:00:00"})
    assert response.status_code == 422
    assert "at" in response.get_json()["error"]["fields"]


def test_explain_a_named_destination_and_an_unknown_one(rapi):
    body = rapi("post", "/api/routing/explain", json={"to": "spanish"}).get_json()
    assert body["ok"] and body["selected_rule"] == "spanish"
    assert [r["name"] for r in body["recipients"]] == ["ra_spanish"]
    refused = rapi("post", "/api/routing/explain", json={"to": "nobody"})
    assert refused.status_code == 200                           # an explanation, not a transfer
    body = refused.get_json()
    assert body["ok"] is False and body["error"]["field"] == "to" and "nobody" in body["error"]["message"]
    assert body["steps"] == []


def test_explain_reports_an_unbound_placeholder(rapi):
    body = rapi("post", "/api/routing/explain", json={"to": "ra_line"}).get_json()
    assert body["ok"] is False and body["error"]["field"] == "variables.line"
    bound = rapi("post", "/api/routing/explain", json={"to": "ra_line", "variables": {"line": "0705"}}).get_json()
    assert bound["ok"] and bound["steps"][0]["targets"][0]["address"] == "+14155550705"


def test_explain_json_booleans_are_lowercase_strings(rapi):
    body = rapi("post", "/api/routing/explain", json={"variables": {"vip": True}}).get_json()
    assert body["variables"]["vip"]["value"] == "true"


def test_explain_with_a_call_uses_the_calls_variables(phone, rapi):
    caller = phone("+14155550781")
    assert rapi("put", f"/api/calls/{caller}/variables",
                json={"variables": {"language": "es-MX"}}).status_code == 200
    body = rapi("post", "/api/routing/explain", json={"call_sid": caller}).get_json()
    assert body["selected_rule"] == "spanish"
    assert body["variables"]["language"] == {"value": "es-MX", "source": "call"}
    assert body["variables"]["caller"]["value"] == "+14155550781"
    # the request's variables win over the call's
    body = rapi("post", "/api/routing/explain",
                json={"call_sid": caller, "variables": {"language": "en", "intent": "billing"}}).get_json()
    assert body["selected_rule"] == "billing"


def test_explain_with_an_unknown_call_is_404(rapi):
    response = rapi("post", "/api/routing/explain", json={"call_sid": "CA" + "0" * 32})
    assert response.status_code == 404
    assert "call_sid" in response.get_json()["error"]["fields"]


def test_explain_rejects_unknown_fields_and_bad_variables(rapi):
    response = rapi("post", "/api/routing/explain", json={"varibles": {}})
    assert response.status_code == 422 and "varibles" in response.get_json()["error"]["fields"]
    response = rapi("post", "/api/routing/explain", json={"variables": {"a": {"nested": 1}}})
    assert response.status_code == 422 and "variables" in response.get_json()["error"]["fields"]
    response = rapi("post", "/api/routing/explain", data=json.dumps([1]), content_type="application/json")
    assert response.status_code == 422


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00+00:00",
                                "0001-01-01T23:59:59-00:30", "9999-12-31T23:59:59-05:00",
                                "9999-12-31T20:00:00+00:00", "9999-12-31T23:59:59.999999-23:59"])
def test_explain_at_the_edges_of_the_calendar_is_422_naming_at(rapi, at):
    response = rapi("post", "/api/routing/explain", json={"at": at})
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert set(error["fields"]) == {"at"} and "out of range" in error["fields"]["at"][0]


def test_explain_far_but_representable_times_still_explain(rapi):
    for at in ("0002-01-02T00:00:00+14:00", "9998-12-30T00:00:00-12:00"):
        response = rapi("post", "/api/routing/explain", json={"at": at, "to": "general"})
        assert response.status_code == 200, response.get_data(as_text=True)
