"""/api/openapi.json: valid, complete, made from the schemas that validate; a property-based run finds no 5xx."""
from __future__ import annotations

import re
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate

from tests.conftest import API_TOKEN

MAX_EXAMPLES = 30          # per operation and generation mode
BUDGET_SECONDS = 60


@pytest.fixture
def document(http):
    assert requests.get(f"{http.base}/api/openapi.json", timeout=10).status_code == 401   # like all of /api
    response = http.get(f"{http.base}/api/openapi.json", timeout=10)
    assert response.status_code == 200
    return response.json()


def test_the_document_validates_and_covers_every_api_route(document, app):
    validate(document)
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops
                  if method != "parameters"}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method) in documented, (path, method)
    for route in ("/api/transfers", "/api/calls", "/api/transfers/{transfer_id}/events", "/api/events",
                  "/api/calls/{call_sid}/transfers", "/api/transfers/{transfer_id}/cancel", "/api/tools",
                  "/api/routing/explain", "/api/calls/{call_sid}/variables"):
        assert route in document["paths"], route


def test_operations_use_the_validating_schemas_and_the_one_error_shape(document):
    listing = document["paths"]["/api/transfers"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert names >= {"status", "outcome", "mode", "recipient", "since", "until", "limit", "cursor", "call_sid"}
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    assert "active" in status["schema"]["items"]["enum"] and "completed" in status["schema"]["items"]["enum"]
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 200)
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/TransferPage"}
    assert listing["responses"]["422"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/Error"}
    assert listing["security"] == [{"bearer": []}]
    create = document["paths"]["/api/calls/{call_sid}/transfers"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/TransferRequest"}
    assert set(create["responses"]) >= {"202", "401", "404", "409", "422"}
    body = document["components"]["schemas"]["TransferRequest"]
    assert body["required"] == ["to"] and {"cold", "warm", "agent"} <= set(body["properties"]["mode"]["enum"])
    assert body["additionalProperties"] is False           # unknown keys are refused, and the doc says so
    events = document["paths"]["/api/transfers/{transfer_id}/events"]["get"]
    assert set(events["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert any(p["name"] == "Last-Event-ID" and p["in"] == "header" for p in events["parameters"])
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert document["paths"]["/api/openapi.json"]["get"]["security"] == [{"bearer": []}]


def test_a_view_documented_with_doc_or_register_appears_once_built():
    """The registry other blueprints use: `doc` on the view, or `register` by endpoint name."""
    from flask import Blueprint, Flask
    from marshmallow import Schema, fields

    from blueprints.openapi import build_spec, doc, register

    class Window(Schema):
        days = fields.Int(load_default=7)

    bp = Blueprint("extra", __name__, url_prefix="/api")

    @bp.get("/analytics")
    @doc(query=Window, response={"type": "object"}, tags=["analytics"])
    def analytics():
        """Aggregates.\n\nPer destination."""

    @bp.get("/audit")
    def audit():
        """The audit trail."""

    register("extra.audit", "GET", errors={403: "Not allowed"})
    app = Flask(__name__)
    app.register_blueprint(bp)
    spec = build_spec(app)
    validate(spec)
    op = spec["paths"]["/api/analytics"]["get"]
    assert op["summary"] == "Aggregates." and op["description"] == "Per destination." and op["tags"] == ["analytics"]
    assert op["parameters"][0]["name"] == "days" and "422" in op["responses"]
    assert set(spec["paths"]["/api/audit"]["get"]["responses"]) == {"200", "401", "403"}


def test_a_property_based_run_finds_no_server_error(document, http, app, monkeypatch):
    """Every operation, with valid and invalid inputs, through the live app and its token: never a 5xx."""
    monkeypatch.setitem(app.config, "HANDOFF_SSE_MAX_SECONDS", 0.2)    # a generated `stream=true` ends soon
    schema = schemathesis.openapi.from_dict(document)
    session = requests.Session()
    failures: list[str] = []
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck), derandomize=True)
            def run(case):
                response = case.call(base_url=http.base, session=session, timeout=10,
                                     headers={"Authorization": f"Bearer {API_TOKEN}"})
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.200} -> "
                                    f"{response.status_code} {response.text[:200]}")

            try:
                run()
            except Unsatisfiable:
                assert mode is schemathesis.GenerationMode.NEGATIVE   # nothing to make invalid (no inputs)
    assert not failures, "\n".join(failures[:10])
    assert time.monotonic() - started < BUDGET_SECONDS
