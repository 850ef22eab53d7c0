"""Every /api route, enumerated from app.url_map, under random bodies, path params and queries.

No answer is a 5xx, and every error is in the one error shape.
"""
from __future__ import annotations

from urllib.parse import quote, urlencode

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import API_TOKEN

from .conftest import check_error_shape, fuzz_settings
from .strategies import MEANINGFUL, json_bodies, nasty_text, plausible_bodies, raw_bodies

FIELDS = ["to", "mode", "message", "reason", "summary", "variables", "final", "caller_id", "timeout", "refer",
          "context", "transcript", "call_sid", "at", "destination", "arguments", "input"]
SAFE_PATH = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=40)
HEADER_TEXT = st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=300)


def api_routes(app) -> list[tuple[str, str, tuple[str, ...]]]:
    """(rule, method, path arguments) of every /api route, as registered."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((rule.rule, method, tuple(sorted(rule.arguments))))
    return routes


def _path(rule: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        rule = rule.replace(f"<{name}>", quote(value, safe=""))
    return rule


def test_every_api_route_survives_random_input(app, known):
    client = app.test_client()
    routes = api_routes(app)
    assert len(routes) >= 8, routes      # the enumeration found the API

    def param(name: str):
        real = [known["call_sid"], "CA" + "0" * 32] if "call" in name else [known["transfer_id"], "tr_missing"]
        return st.one_of(st.sampled_from(real), SAFE_PATH)

    for rule, method, arguments in routes:
        @fuzz_settings(160)
        @given(path=st.fixed_dictionaries({a: param(a) for a in arguments}),
               body=st.one_of(plausible_bodies(), json_bodies(FIELDS), raw_bodies()),
               content_type=st.sampled_from(["application/json", "application/json", "text/plain",
                                             "application/x-www-form-urlencoded", "application/merge-patch+json"]),
               query=st.dictionaries(st.sampled_from(["format", "call_sid", "auth", "x"]),
                                     st.one_of(st.sampled_from(MEANINGFUL + ["token", "none", "bogus"]),
                                               st.text(alphabet=st.characters(codec="utf-8"), max_size=20)),
                                     max_size=3),
               key=st.one_of(st.none(), HEADER_TEXT))
        def run(path, body, content_type, query, key):
            headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": content_type}
            if key is not None:
                headers["Idempotency-Key"] = key
            url = _path(rule, path)
            response = client.open(url, method=method, data=body, headers=headers, query_string=urlencode(query))
            assert response.status_code < 500, (method, url, body[:200], response.get_data()[:500])
            if response.status_code >= 400:
                check_error_shape(response)

        run()


def test_unauthenticated_requests_are_401_in_the_error_shape(app, known):
    client = app.test_client()
    for rule, method, arguments in api_routes(app):
        url = _path(rule, {a: known["call_sid"] if "call" in a else known["transfer_id"] for a in arguments})
        for auth in (None, "Bearer", "Bearer wrong-token-0123456789", "Basic abc", "bearer \u00e9\u00e9"):
            response = client.open(url, method=method, json={}, headers={"Authorization": auth} if auth else {})
            assert response.status_code == 401, (method, url, auth)
            check_error_shape(response)
