import json

import pytest

from handoff.routing import RoutingError

JSON_TYPES = {"object", "string", "number", "integer", "boolean", "array", "null"}


def check_schema(schema, path="$"):
    """A structural check of the JSON Schema subset tool platforms accept."""
    assert isinstance(schema, dict), path
    assert schema.get("type") in JSON_TYPES, f"{path}: type"
    if "description" in schema:
        assert isinstance(schema["description"], str) and schema["description"], path
    if schema["type"] == "object":
        props = schema.get("properties")
        assert isinstance(props, dict) and props, f"{path}: properties"
        for name, sub in props.items():
            assert isinstance(name, str)
            check_schema(sub, f"{path}.{name}")
        req = schema.get("required", [])
        assert isinstance(req, list) and len(set(req)) == len(req) and set(req) <= set(props), f"{path}: required"
        assert isinstance(schema.get("additionalProperties", False), bool)
    if "enum" in schema:
        enum = schema["enum"]
        assert isinstance(enum, list) and enum and len(set(enum)) == len(enum), f"{path}: enum"
        assert all(isinstance(v, str) for v in enum)
    allowed = {"type", "description", "properties", "required", "additionalProperties", "enum",
               "$schema", "title", "items"}
    assert set(schema) <= allowed, f"{path}: unexpected keywords {set(schema) - allowed}"


def test_destination_enum_and_descriptions(router):
    schema = router.tools("json-schema")
    check_schema(schema)
    assert schema["$schema"].startswith("https://json-schema.org/")
    dest = schema["properties"]["destination"]
    assert dest["enum"][0] == "auto"
    for name in ("vip", "acct", "team", "oncall", "billing", "spanish", "bot"):
        assert name in dest["enum"]
    assert "billing: Billing team." in dest["description"]
    assert "Retention bot." in dest["description"]
    assert schema["required"] == ["destination", "reason"]
    assert set(schema["properties"]) == {"destination", "reason", "summary", "sms"}


def test_openai_format(router):
    tools = router.tools("openai")
    assert isinstance(tools, list) and len(tools) == 1
    tool = tools[0]
    assert tool["type"] == "function" and set(tool["function"]) == {"name", "description", "parameters"}
    assert tool["function"]["name"] == "transfer_call"
    check_schema(tool["function"]["parameters"])
    json.dumps(tools)


def test_anthropic_format(router):
    (tool,) = router.tools("anthropic")
    assert set(tool) == {"name", "description", "input_schema"}
    check_schema(tool["input_schema"])


def test_ultravox_format(router):
    (entry,) = router.tools("ultravox", base_url="https://handoff.example.com/", static_parameters={"call_sid": "CA1"})
    tool = entry["temporaryTool"]
    assert tool["modelToolName"] == "transfer_call" and tool["description"]
    assert tool["http"] == {"baseUrlPattern": "https://handoff.example.com/api/tools/transfer_call",
                            "httpMethod": "POST"}
    params = {p["name"]: p for p in tool["dynamicParameters"]}
    assert set(params) == {"destination", "reason", "summary", "sms"}
    for p in params.values():
        assert p["location"] == "PARAMETER_LOCATION_BODY" and isinstance(p["required"], bool)
        check_schema(p["schema"])
    assert params["destination"]["required"] and not params["summary"]["required"]
    assert tool["staticParameters"] == [{"name": "call_sid", "location": "PARAMETER_LOCATION_BODY", "value": "CA1"}]
    assert tool["automaticParameters"][0]["knownValue"] == "KNOWN_PARAM_CALL_ID"


def test_unknown_format(router):
    with pytest.raises(RoutingError) as err:
        router.tools("vapi-v9")
    assert err.value.field == "format"


def test_hidden_recipients_not_offered(write):
    from handoff.routing import load_router
    path = write("""
        tool: {name: handoff, description: Connect the caller to a person.}
        recipients:
          - {name: a, type: number, number: "+14155550100", description: A desk, languages: [en, fr]}
          - {name: b, type: number, number: "+14155550101", expose: false}
    """)
    (tool,) = load_router(path).tools("anthropic")
    assert tool["name"] == "handoff" and tool["description"] == "Connect the caller to a person."
    assert tool["input_schema"]["properties"]["destination"]["enum"] == ["a"]     # no rules -> no "auto"
    assert "speaks en, fr" in tool["input_schema"]["properties"]["destination"]["description"]


def test_ultravox_auth_modes(router):
    (entry,) = router.tools("ultravox", base_url="https://h.example.com")
    options = entry["temporaryTool"]["requirements"]["httpSecurityOptions"]["options"]
    assert options == [{"requirements": {"handoffApiToken": {"httpAuth": {"scheme": "Bearer"}}}}]
    assert entry["authTokens"] == {"handoffApiToken": "<API_TOKEN>"}
    (entry,) = router.tools("ultravox", auth="token", token="secret-token-123456")
    assert entry["authTokens"] == {"handoffApiToken": "secret-token-123456"}
    (entry,) = router.tools("ultravox", auth="none")
    assert entry == {"temporaryTool": entry["temporaryTool"]} and "requirements" not in entry["temporaryTool"]
    for bad in ({"auth": "basic"}, {"auth": "token"}):       # unknown mode; token mode without a token
        with pytest.raises(RoutingError) as err:
            router.tools("ultravox", **bad)
        assert err.value.field == "auth"
    # The other formats are called by the integrator's own code: their definitions stay platform-pure.
    assert "requirements" not in json.dumps(router.tools("openai"))
