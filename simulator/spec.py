"""Twilio's own OpenAPI description of API v2010: allowed parameters, enums and response fields."""

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

SPEC_ENV = "TWILIO_OAI_SPEC"
SPEC_FILE = "twilio_api_v2010.json"


def default_spec_path():
    """Where the spec lives: $TWILIO_OAI_SPEC, else ../shared/twilio-oai/ beside the project root."""
    if os.environ.get(SPEC_ENV):
        return Path(os.environ[SPEC_ENV])
    project_root = Path(__file__).resolve().parent.parent
    return project_root.parent / "shared" / "twilio-oai" / SPEC_FILE


@dataclass
class Param:
    """One request parameter of an operation."""

    name: str
    location: str  # "path", "query" or "body"
    type: str = "string"
    enum: tuple = ()
    is_array: bool = False


@dataclass
class Operation:
    """One (method, path) pair of the spec."""

    method: str
    path: str
    operation_id: str
    params: dict = field(default_factory=dict)
    required: frozenset = frozenset()
    response_schema: str = None
    list_key: str = None
    success_status: int = 200

    def inputs(self):
        """Parameters the client may send (query for GET/DELETE, form body for POST)."""
        return {n: p for n, p in self.params.items() if p.location != "path"}


class Spec:
    """The parsed spec, indexed by method and path template."""

    def __init__(self, document):
        self.document = document
        self.schemas = document["components"]["schemas"]
        self.operations = {}
        for path, item in document["paths"].items():
            for method in ("get", "post", "delete"):
                if method in item:
                    op = self._operation(method.upper(), path, item[method])
                    self.operations[(op.method, path)] = op

    @classmethod
    def load(cls, path=None):
        """Load the spec file (raises FileNotFoundError naming the path when absent)."""
        path = Path(path) if path else default_spec_path()
        with open(path, encoding="utf-8") as fh:
            return cls(json.load(fh))

    def operation(self, method, path):
        """The operation for a method and a path template such as /2010-04-01/Accounts/{AccountSid}/Calls.json."""
        return self.operations[(method.upper(), path)]

    def schema_fields(self, name):
        """Field names the schema of a resource lists (e.g. api.v2010.account.call)."""
        return list(self.schemas[name]["properties"].keys())

    def enum_values(self, ref_name):
        """Enum values of a named enum schema."""
        return tuple(self.schemas[ref_name]["enum"])

    def validate(self, op, items, *, strict):
        """Errors for request parameters: unknown names, bad enum values, bad types, missing required ones."""
        allowed = op.inputs()
        errors = []
        seen = set()
        for name, value in items:
            seen.add(name)
            param = allowed.get(name)
            if param is None:
                if strict:
                    errors.append(f"Unknown parameter '{name}' for {op.operation_id}")
                continue
            if param.enum and value not in param.enum:
                errors.append(
                    f"Invalid value '{value}' for parameter '{name}' (allowed: {', '.join(param.enum)})"
                )
            elif param.type == "integer" and not re.fullmatch(r"-?\d+", value or ""):
                errors.append(f"Invalid integer '{value}' for parameter '{name}'")
            elif param.type == "boolean" and str(value).lower() not in ("true", "false"):
                errors.append(f"Invalid boolean '{value}' for parameter '{name}'")
        for name in sorted(op.required - seen):
            errors.append(f"Missing required parameter '{name}'")
        return errors

    def _resolve(self, schema):
        if "$ref" in schema:
            return self.schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def _param(self, name, location, schema):
        schema = schema or {}
        is_array = schema.get("type") == "array"
        inner = self._resolve(schema.get("items", {}) if is_array else schema)
        return Param(
            name=name,
            location=location,
            type=inner.get("type", "string"),
            enum=tuple(inner.get("enum", ())),
            is_array=is_array,
        )

    def _operation(self, method, path, raw):
        params = {}
        for p in raw.get("parameters", []):
            params[p["name"]] = self._param(p["name"], p["in"], p.get("schema"))
        required = frozenset()
        body = raw.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
        if body:
            schema = body["schema"]
            required = frozenset(schema.get("required", ()))
            for name, prop in schema.get("properties", {}).items():
                params[name] = self._param(name, "body", prop)
        status, response = next(iter(raw.get("responses", {}).items()))
        response_schema, list_key = None, None
        content = (response.get("content") or {}).get("application/json")
        if content:
            schema = content["schema"]
            if "$ref" in schema:
                response_schema = schema["$ref"].rsplit("/", 1)[-1]
            else:
                for key, prop in schema.get("properties", {}).items():
                    ref = (prop.get("items") or {}).get("$ref")
                    if prop.get("type") == "array" and ref:
                        list_key, response_schema = key, ref.rsplit("/", 1)[-1]
        return Operation(
            method=method,
            path=path,
            operation_id=raw.get("operationId", ""),
            params=params,
            required=required,
            response_schema=response_schema,
            list_key=list_key,
            success_status=int(status),
        )
