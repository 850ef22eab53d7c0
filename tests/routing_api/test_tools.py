"""GET /api/tools: definitions that validate as JSON Schema and as each platform's tool shape."""
from __future__ import annotations

import jsonschema
import pytest
from jsonschema import Draft202012Validator

FORMATS = ["openai", "anthropic", "ultravox", "json-schema"]
EXPOSED = ["auto", "billing", "spanish", "general", "ra_billing", "ra_spanish", "ra_front", "ra_line", "ra_pbx"]


def _parameters(fmt: str, body) -> dict:
    """The parameters JSON Schema inside one format's tool definition."""
    if fmt == "openai":
        return body[0]["function"]["parameters"]
    if fmt == "anthropic":
        return body[0]["input_schema"]
    if fmt == "json-schema":
        return body
    tool = body[0]["temporaryTool"]
    params = tool["dynamicParameters"]
    return {"type": "object", "properties": {p["name"]: p["schema"] for p in params},
            "required": [p["name"] for p in params if p["required"]]}


@pytest.mark.parametrize("fmt", FORMATS)
def test_tool_parameters_are_valid_draft_2020_12_schemas(rapi, fmt):
    response = rapi("get", f"/api/tools?format={fmt}")
    assert response.status_code == 200, response.get_json()
    schema = _parameters(fmt, response.get_json())
    Draft202012Validator.check_schema(schema)
    for prop in schema["properties"].values():
        Draft202012Validator.check_schema(prop)
    validator = Draft202012Validator(schema)
    validator.validate({"destination": "billing", "reason": "Invoice question", "summary": "Caller wants a refund."})
    validator.validate({"destination": "auto", "reason": "Wants a human"})
    for bad in ({"destination": "ra_hidden", "reason": "x"},      # hidden: not in the enum
                {"destination": "+14155550704", "reason": "x"},   # raw numbers are not offered
                {"reason": "x"}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)
    assert schema["properties"]["destination"]["enum"] == EXPOSED


def test_openai_shape(rapi):
    body = rapi("get", "/api/tools?format=openai").get_json()
    assert isinstance(body, list) and len(body) == 1
    tool = body[0]
    assert set(tool) == {"type", "function"} and tool["type"] == "function"
    function = tool["function"]
    assert set(function) == {"name", "description", "parameters"}
    assert function["name"] == "transfer_call" and function["description"].strip()
    params = function["parameters"]
    assert params["type"] == "object" and params["additionalProperties"] is False
    assert set(params["required"]) <= set(params["properties"])
    # descriptions the LLM chooses from: the recipients' descriptions and languages
    assert "Billing team for invoices and refunds." in params["properties"]["destination"]["description"]
    assert "speaks es" in params["properties"]["destination"]["description"]


def test_default_format_is_openai(rapi):
    assert rapi("get", "/api/tools").get_json() == rapi("get", "/api/tools?format=openai").get_json()


def test_anthropic_shape(rapi):
    body = rapi("get", "/api/tools?format=anthropic").get_json()
    assert isinstance(body, list) and len(body) == 1
    tool = body[0]
    assert set(tool) == {"name", "description", "input_schema"}
    assert tool["name"] == "transfer_call"
    # Anthropic tool names: ^[a-zA-Z0-9_-]{1,64}$
    assert len(tool["name"]) <= 64 and tool["name"].replace("_", "").replace("-", "").isalnum()
    assert tool["input_schema"]["type"] == "object"


def test_ultravox_temporary_tool_shape(rapi, service_env):
    body = rapi("get", "/api/tools?format=ultravox").get_json()
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"temporaryTool", "authTokens"}
    tool = body[0]["temporaryTool"]
    assert tool["modelToolName"] == "transfer_call" and tool["description"].strip()
    assert tool["http"] == {"baseUrlPattern": service_env["PUBLIC_BASE_URL"] + "/api/tools/transfer_call",
                            "httpMethod": "POST"}
    for param in tool["dynamicParameters"]:
        assert set(param) == {"name", "location", "schema", "required"}
        assert param["location"] == "PARAMETER_LOCATION_BODY"
        Draft202012Validator.check_schema(param["schema"])
    assert {p["name"] for p in tool["dynamicParameters"]} == {"destination", "reason", "summary", "sms"}
    for param in tool["automaticParameters"]:
        assert param["location"] == "PARAMETER_LOCATION_BODY" and param["knownValue"].startswith("KNOWN_PARAM_")
    assert "staticParameters" not in tool


def test_ultravox_tool_for_a_call_carries_its_sid(rapi):
    sid = "CA" + "ab" * 16
    tool = rapi("get", f"/api/tools?format=ultravox&call_sid={sid}").get_json()[0]["temporaryTool"]
    assert tool["staticParameters"] == [{"name": "call_sid", "location": "PARAMETER_LOCATION_BODY", "value": sid}]
    response = rapi("get", "/api/tools?format=ultravox&call_sid=nope")
    assert response.status_code == 422 and "call_sid" in response.get_json()["error"]["fields"]


def test_json_schema_format_declares_the_2020_12_dialect(rapi):
    body = rapi("get", "/api/tools?format=json-schema").get_json()
    assert body["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert body["title"] == "transfer_call" and body["description"]
    assert jsonschema.validators.validator_for(body) is Draft202012Validator
    Draft202012Validator.check_schema(body)


def test_unknown_format_is_422_naming_format(rapi):
    response = rapi("get", "/api/tools?format=gemini")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert set(error["fields"]) == {"format"}
    assert "gemini" in error["message"] and "openai" in error["message"]


def test_tools_of_the_fixture_file_have_no_auto_without_rules(api):
    schema = api("get", "/api/tools?format=json-schema").get_json()
    Draft202012Validator.check_schema(schema)
    assert "auto" not in schema["properties"]["destination"]["enum"]
    assert "billing" in schema["properties"]["destination"]["enum"]


def test_ultravox_tool_requires_bearer_auth_with_a_placeholder_by_default(rapi, service_env):
    response = rapi("get", "/api/tools?format=ultravox")
    (entry,) = response.get_json()
    requirement = entry["temporaryTool"]["requirements"]["httpSecurityOptions"]["options"][0]["requirements"]
    assert requirement == {"handoffApiToken": {"httpAuth": {"scheme": "Bearer"}}}
    assert entry["authTokens"] == {"handoffApiToken": "<API_TOKEN>"}
    for token in service_env["API_TOKEN"].split(","):          # no configured token leaks unasked
        assert token not in response.get_data(as_text=True)


def test_ultravox_tool_with_auth_token_carries_the_requests_own_token_only(routing_app, service_env):
    first, second = service_env["API_TOKEN"].split(",")
    client = routing_app.test_client()
    response = client.get("/api/tools?format=ultravox&auth=token", headers={"Authorization": f"Bearer {second}"})
    (entry,) = response.get_json()
    assert entry["authTokens"] == {"handoffApiToken": second}
    assert first not in response.get_data(as_text=True)
    # What Ultravox then sends (Authorization: <scheme> <authTokens value>) is accepted.
    scheme = entry["temporaryTool"]["requirements"]["httpSecurityOptions"]["options"][0]["requirements"][
        "handoffApiToken"]["httpAuth"]["scheme"]
    call = client.post(entry["temporaryTool"]["http"]["baseUrlPattern"].removeprefix(service_env["PUBLIC_BASE_URL"]),
                       json={}, headers={"Authorization": f"{scheme} {entry['authTokens']['handoffApiToken']}"})
    assert call.status_code == 422 and call.get_json()["field"] == "call_sid"


def test_auth_none_and_unknown_auth(rapi):
    (entry,) = rapi("get", "/api/tools?format=ultravox&auth=none").get_json()
    assert set(entry) == {"temporaryTool"} and "requirements" not in entry["temporaryTool"]
    response = rapi("get", "/api/tools?format=openai&auth=basic")
    assert response.status_code == 422 and set(response.get_json()["error"]["fields"]) == {"auth"}


@pytest.mark.parametrize("fmt", ["openai", "anthropic", "json-schema"])
def test_other_formats_say_how_to_authenticate(rapi, service_env, fmt):
    response = rapi("get", f"/api/tools?format={fmt}")
    assert response.headers["X-Handoff-Tool-Auth"] == (
        f"POST {service_env['PUBLIC_BASE_URL']}/api/tools/transfer_call with Authorization: Bearer <API_TOKEN>")
    assert "API_TOKEN" not in response.get_data(as_text=True)
