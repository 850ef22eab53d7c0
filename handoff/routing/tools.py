"""Transfer-tool definitions for LLM agent platforms, generated from the recipients file.

One tool (default name `transfer_call`) with four parameters: `destination` (an enum of the
exposed recipient, group, rotation and rule names, plus "auto" when rules exist), `reason`,
`summary` and an optional `sms` (a text to the caller as it starts: handoff/texts.py). Formats: openai, anthropic, ultravox, json-schema.

Authentication: the tool endpoint takes `Authorization: Bearer <API_TOKEN>`. Ultravox calls it
itself, so its definition carries the requirement in Ultravox's own terms (requirements.
httpSecurityOptions with an httpAuth "Bearer" scheme, satisfied by the selected tool's
authTokens); with openai, anthropic and json-schema your code makes the call and sends the header.
"""
from __future__ import annotations

from collections.abc import Mapping

from .errors import RoutingError

FORMATS = ("openai", "anthropic", "ultravox", "json-schema")
AUTH_MODES = ("placeholder", "token", "none")
AUTH_KEY = "handoffApiToken"          # the name tying Ultravox's requirement to its authTokens entry
AUTH_PLACEHOLDER = "<API_TOKEN>"
TOOL_PATH = "/api/tools/transfer_call"
DEFAULT_BASE_URL = "http://127.0.0.1:5000"

DEFAULT_DESCRIPTION = (
    "Hand the caller over to a person or team. Use it when the caller asks for a human, or when "
    "the request needs someone listed under 'destination'. Tell the caller you are connecting them "
    "before calling it; if it answers that the transfer was refused or failed, tell the caller and "
    "keep helping."
)


def destinations(router) -> list[tuple[str, str]]:
    """(name, description) of every destination the LLM may choose, in file order."""
    cfg = router.config
    items: list[tuple[str, str]] = []
    if cfg.rules:
        items.append(("auto", "Let the routing rules pick the right team from what is known about the call."))
    for rule in cfg.rules:
        if rule.expose:
            items.append((rule.name, rule.description))
    for coll in (cfg.groups, cfg.rotations, cfg.recipients):
        for e in coll.values():
            if e.expose and e.name not in dict(items):
                desc = e.description
                langs = getattr(e, "languages", ())
                if langs:
                    desc = f"{desc} (speaks {', '.join(langs)})".strip()
                items.append((e.name, desc))
    return items


def parameters_schema(router) -> dict:
    items = destinations(router)
    listing = "; ".join(f"{n}: {d}" if d else n for n, d in items)
    return {
        "type": "object",
        "properties": {
            "destination": {
                "type": "string",
                "enum": [n for n, _ in items],
                "description": f"Who to connect the caller with. Choose one: {listing}",
            },
            "reason": {
                "type": "string",
                "description": "One sentence on why the caller needs this transfer; the person answering hears it.",
            },
            "summary": {
                "type": "string",
                "description": "A few sentences summarising the conversation so far (who the caller is, "
                               "what they want, what was already tried).",
            },
            "sms": {
                "type": "string",
                "description": "Optional: a short text message to send the caller's phone as the transfer "
                               "starts (e.g. their case number). Only when the caller would want it.",
            },
        },
        "required": ["destination", "reason"],
        "additionalProperties": False,
    }


def _ultravox_auth(auth: str, token: str | None) -> tuple[dict | None, dict | None]:
    """(requirements, authTokens) for Ultravox: the tool demands `Authorization: Bearer <token>`."""
    if auth == "none":
        return None, None
    if auth == "token" and not token:
        raise RoutingError("auth=token needs the request's bearer token", field="auth")
    requirements = {"httpSecurityOptions": {"options": [
        {"requirements": {AUTH_KEY: {"httpAuth": {"scheme": "Bearer"}}}}]}}
    return requirements, {AUTH_KEY: token if auth == "token" else AUTH_PLACEHOLDER}


def render(router, format: str = "openai", *, base_url: str | None = None,
           static_parameters: Mapping[str, str] | None = None, auth: str = "placeholder",
           token: str | None = None):
    """The tool definitions in `format`; raises RoutingError(field="format") for an unknown one.

    openai -> [{"type": "function", "function": {name, description, parameters}}]
    anthropic -> [{"name", "description", "input_schema"}]
    ultravox -> [{"temporaryTool": {modelToolName, description, dynamicParameters, staticParameters,
                  automaticParameters, requirements, http: {baseUrlPattern, httpMethod}},
                  "authTokens": {...}}] (a selectedTools entry of Ultravox's call creation)
    json-schema -> the bare parameters JSON Schema (draft 2020-12) with title and description
    `base_url` is the service's public URL (ultravox calls the tool endpoint there);
    `static_parameters` (e.g. {"call_sid": "CA..."}) are sent by Ultravox on every invocation.
    `auth` (ultravox): "placeholder" puts "<API_TOKEN>" in authTokens for you to replace, "token"
    puts `token` there, "none" leaves authentication out; raises RoutingError(field="auth").
    """
    fmt = (format or "").strip().lower().replace("_", "-")
    if fmt == "jsonschema":
        fmt = "json-schema"
    if fmt not in FORMATS:
        raise RoutingError(f"unknown tool format {format!r}: use one of {', '.join(FORMATS)}", field="format")
    if auth not in AUTH_MODES:
        raise RoutingError(f"unknown auth {auth!r}: use one of {', '.join(AUTH_MODES)}", field="auth")
    cfg = router.config
    name = cfg.tool_name
    description = cfg.tool_description or DEFAULT_DESCRIPTION
    schema = parameters_schema(router)
    if fmt == "openai":
        return [{"type": "function", "function": {"name": name, "description": description, "parameters": schema}}]
    if fmt == "anthropic":
        return [{"name": name, "description": description, "input_schema": schema}]
    if fmt == "json-schema":
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": name,
                "description": description, **schema}
    required = set(schema["required"])
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    tool = {
        "modelToolName": name,
        "description": description,
        "dynamicParameters": [
            {"name": pname, "location": "PARAMETER_LOCATION_BODY", "schema": pschema, "required": pname in required}
            for pname, pschema in schema["properties"].items()
        ],
        "automaticParameters": [
            {"name": "ultravox_call_id", "location": "PARAMETER_LOCATION_BODY", "knownValue": "KNOWN_PARAM_CALL_ID"},
        ],
        "http": {"baseUrlPattern": base + TOOL_PATH, "httpMethod": "POST"},
    }
    if static_parameters:
        tool["staticParameters"] = [{"name": k, "location": "PARAMETER_LOCATION_BODY", "value": v}
                                    for k, v in static_parameters.items()]
    requirements, tokens = _ultravox_auth(auth, token)
    entry: dict = {"temporaryTool": tool}
    if requirements:
        tool["requirements"] = requirements
        entry["authTokens"] = tokens
    return [entry]
