"""GET /api/analytics: the query schema (422 naming the field), the bearer token, the answer's shape."""
from __future__ import annotations

import pytest
import redis

from handoff.keys import Keys

HOUR = "2021030413"          # hand-written, far in the past: no transfer of the suite writes there
WINDOW = {"since": "2021-03-04T00:00:00Z", "until": "2021-03-05T00:00:00Z"}


@pytest.fixture(scope="module")
def bucket(app, service_env):
    connection = redis.Redis.from_url(service_env["REDIS_URL"])
    key = Keys(service_env["REDIS_KEY_PREFIX"]).analytics(HOUR)
    connection.delete(key)
    fields = {}
    for dim in ("all=*", "dest=billing", "rule=billing-hours", "mode=warm"):
        fields.update({f"{dim}|attempts": 4, f"{dim}|result:accepted": 1, f"{dim}|result:declined": 3,
                       f"{dim}|answer_le:2": 4, f"{dim}|answer_n": 4, f"{dim}|answer_sum": 6,
                       f"{dim}|transfers": 2, f"{dim}|outcome:transfer-success": 1,
                       f"{dim}|outcome:transfer-screening-rejected": 1, f"{dim}|depth:2": 2})
    connection.hset(key, mapping=fields)
    yield key
    connection.close()


def test_needs_the_bearer_token(client):
    response = client.get("/api/analytics")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("query,field", [
    ({"since": "yesterday"}, "since"),
    ({"until": "2021-13-01T00:00:00Z"}, "until"),
    ({"since": "2021-03-05T00:00:00Z", "until": "2021-03-04T00:00:00Z"}, "since"),
    ({"since": "2021-01-01T00:00:00Z", "until": "2021-06-01T00:00:00Z"}, "since"),
    ({"until": "2300-01-01T00:00:00Z"}, "until"),
    ({"since": "0001-01-01T00:00:00+05:00"}, "since"),
    ({"until": "9999-12-31T23:59:59-05:00"}, "until"),
    ({"tz": "Europe/Atlantis"}, "tz"),
    ({"tz": "../../etc/passwd"}, "tz"),
    ({"group_by": "destination,team"}, "group_by"),
    ({"window": "7d"}, "window"),
])
def test_bad_input_is_422_naming_the_field(api, query, field):
    response = api("get", "/api/analytics", query_string=query)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()["error"]
    assert body["code"] == "invalid_request" and list(body["fields"]) == [field]


def test_figures_of_a_hand_written_hour(api, bucket):
    response = api("get", "/api/analytics", query_string={**WINDOW, "tz": "Europe/Paris"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["window"] == {"since": "2021-03-04T00:00:00Z", "until": "2021-03-05T00:00:00Z",
                              "tz": "Europe/Paris", "first_hour": "2021-03-04T00:00:00Z", "hours": 24}
    assert "estimates" in body["estimates"] and 2.0 in body["bounds"]
    for row in (body["overall"], body["by_destination"][0], body["by_rule"][0], body["by_mode"][0]):
        assert row["attempts"] == 4 and row["transfers"] == 2
        assert row["rates"]["decline"] == 0.75 and row["rates"]["accept"] == 0.25
        assert row["time_to_answer"]["n"] == 4 and row["time_to_answer"]["mean"] == 1.5
        assert row["depth"] == {"distribution": {"2": 2}, "mean": 2.0}
    assert [r["key"] for r in (body["by_destination"][0], body["by_rule"][0], body["by_mode"][0])] == \
        ["billing", "billing-hours", "warm"]
    paris = [r for r in body["by_hour_of_day"] if r["attempts"]]
    assert [r["key"] for r in paris] == ["14"]          # 13:00 UTC is 14:00 in Paris in March
    assert len(body["series"]) == 24 and body["series"][13]["attempts"] == 4


def test_group_by_limits_the_groupings(api, bucket):
    body = api("get", "/api/analytics", query_string={**WINDOW, "group_by": "mode"}).get_json()
    assert "by_mode" in body and not {"by_destination", "by_rule", "by_hour_of_day"} & set(body)
    assert body["overall"]["attempts"] == 4


def test_default_window_is_the_last_seven_days(api):
    body = api("get", "/api/analytics").get_json()
    assert body["window"]["tz"] == "UTC" and body["window"]["hours"] in (168, 169)


def test_documented_in_openapi(api):
    spec = api("get", "/api/openapi.json").get_json()
    operation = spec["paths"]["/api/analytics"]["get"]
    names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert names == {"since", "until", "tz", "group_by"}
    assert "bucket estimates" in operation["description"]
    assert "422" in operation["responses"] and "401" in operation["responses"]
