"""app.json (the Deploy-to-Heroku button, review apps) agrees with the Procfile, .env.example and the
configuration the service actually requires."""
from __future__ import annotations

import secrets

import jsonschema

from handoff.config import Config, ConfigError

from .manifests import (ADDON_VARS, LOCAL_ONLY, NOT_SCALED, addon_services, app_json,
                        env_example_names, procfile, scaled_types)

# Heroku's app.json schema (devcenter.heroku.com/articles/app-json-schema): its keys only.
_DYNO_SIZES = ["eco", "basic", "standard-1x", "standard-2x", "performance-m", "performance-l",
               "performance-l-ram", "performance-xl", "performance-2xl", "private-s", "private-m",
               "private-l", "shield-s", "shield-m", "shield-l"]
_ENV = {"type": "object", "additionalProperties": False, "patternProperties": {"^[A-Z][A-Z0-9_]*$": {
    "oneOf": [{"type": "string"}, {
        "type": "object", "additionalProperties": False,
        "properties": {"description": {"type": "string"}, "value": {"type": "string"},
                       "required": {"type": "boolean"}, "generator": {"enum": ["secret"]}}}]}}}
_FORMATION = {"type": "object", "additionalProperties": False, "patternProperties": {"^[a-z0-9_-]+$": {
    "type": "object", "additionalProperties": False, "required": ["quantity"],
    "properties": {"quantity": {"type": "integer", "minimum": 0}, "size": {"enum": _DYNO_SIZES}}}}}
_ADDONS = {"type": "array", "items": {"oneOf": [{"type": "string"}, {
    "type": "object", "additionalProperties": False, "required": ["plan"],
    "properties": {"plan": {"type": "string"}, "as": {"type": "string"}, "options": {"type": "object"}}}]}}
_BUILDPACKS = {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                          "required": ["url"], "properties": {"url": {"type": "string"}}}}
_SCRIPTS = {"type": "object", "additionalProperties": False, "properties": {
    name: {"type": "string"} for name in ("postdeploy", "pr-predestroy", "test-setup", "test")}}
APP_JSON_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 30},
        "description": {"type": "string", "maxLength": 140},
        "keywords": {"type": "array", "items": {"type": "string"}},
        "website": {"type": "string"}, "repository": {"type": "string"}, "logo": {"type": "string"},
        "success_url": {"type": "string"}, "stack": {"type": "string"}, "image": {"type": "string"},
        "scripts": _SCRIPTS, "env": _ENV, "formation": _FORMATION, "addons": _ADDONS, "buildpacks": _BUILDPACKS,
        "environments": {"type": "object", "additionalProperties": False, "patternProperties": {"^(test|review)$": {
            "type": "object", "additionalProperties": False,
            "properties": {"scripts": _SCRIPTS, "env": _ENV, "formation": _FORMATION, "addons": _ADDONS,
                           "buildpacks": _BUILDPACKS}}}},
    },
}

# Well-formed values for what app.json asks the deployer to type (Heroku generates the secrets and the
# add-on sets REDIS_URL). A new required variable needs one here.
SAMPLES = {
    "TWILIO_ACCOUNT_SID": "AC" + "0123abcd" * 4,
    "TWILIO_AUTH_TOKEN": "an-auth-token",
    "PUBLIC_BASE_URL": "https://my-handoff-1234567890ab.herokuapp.com",
    "AGENT": "wss://agent.example.com/relay",
    "REDIS_URL": "rediss://:password@ec2-1-2-3-4.compute-1.amazonaws.com:6380",
}


def env_entries() -> dict[str, dict]:
    """app.json's env, every entry as an object (a bare string is a value)."""
    return {name: spec if isinstance(spec, dict) else {"value": spec} for name, spec in app_json()["env"].items()}


def provided_at_deploy() -> dict[str, str]:
    """The config vars a new app starts with: typed by the deployer, generated, set by add-ons, or fixed."""
    env = {}
    for name, spec in env_entries().items():
        if spec.get("generator") == "secret":
            env[name] = secrets.token_hex(32)   # Heroku's generator: 64 hex digits
        elif "value" in spec:
            env[name] = spec["value"]
        elif spec.get("required"):
            assert name in SAMPLES, f"{name} is required in app.json: give SAMPLES a well-formed value for it"
            env[name] = SAMPLES[name]
    for service in addon_services(app_json()):
        env.update({name: SAMPLES[name] for name in ADDON_VARS.get(service, ())})
    return env


class RecordingEnv(dict):
    """An environment that notes every name read from it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


def test_app_json_is_valid_json_with_known_keys_only():
    jsonschema.validate(app_json(), APP_JSON_SCHEMA)


def test_formation_is_the_procfiles_process_types():
    formation = app_json()["formation"]
    assert set(formation) == scaled_types(), (
        f"Procfile types without a formation entry: {sorted(scaled_types() - set(formation))}; "
        f"formation entries the Procfile lacks: {sorted(set(formation) - scaled_types())}")
    assert not NOT_SCALED & set(formation)
    # Both must run: web answers Twilio, the worker holds every deadline (the sweeper) and the REST calls.
    assert all(entry["quantity"] >= 1 for entry in formation.values())
    assert {"web", "worker"} <= set(procfile())


def test_every_env_example_variable_is_described_and_nothing_else():
    described = set(app_json()["env"])
    from_addons = set().union(*(ADDON_VARS.get(s, set()) for s in addon_services(app_json())))
    expected = env_example_names() - set(LOCAL_ONLY) - from_addons
    assert described == expected, (
        f".env.example variables app.json does not describe: {sorted(expected - described)}; "
        f"app.json variables .env.example does not name: {sorted(described - expected)} "
        f"(local-only: {sorted(LOCAL_ONLY)}; set by add-ons: {sorted(from_addons)})")
    assert all(spec.get("description", "").strip() for spec in env_entries().values()), \
        "every app.json env entry has a description"


def test_local_only_names_are_real():
    """The exceptions name real variables (in .env.example, or the local-mode switches the config reads):
    a stale entry would hide a missing description."""
    env = RecordingEnv(provided_at_deploy())
    Config.from_env(env)
    assert set(LOCAL_ONLY) <= env_example_names() | env.read


def test_redis_comes_from_the_heroku_redis_addon():
    manifest = app_json()
    assert "heroku-redis" in addon_services(manifest)
    assert "REDIS_URL" not in manifest["env"]
    # Heroku Redis serves rediss:// with a self-signed certificate.
    assert env_entries()["REDIS_TLS_VERIFY"]["value"] == "false"


def test_secrets_are_generated():
    entries = env_entries()
    for name in ("API_TOKEN", "SECRET_KEY"):
        assert entries[name].get("generator") == "secret", name
        assert "value" not in entries[name] and not entries[name].get("required"), name


def test_a_new_app_starts_with_what_app_json_provides():
    """Config accepts exactly what a Deploy-button app is created with (generated secrets included)."""
    Config.from_env(provided_at_deploy())


def test_required_variables_are_what_the_config_requires():
    provided = provided_at_deploy()
    needed = set()
    for name in provided:
        try:
            Config.from_env({k: v for k, v in provided.items() if k != name})
        except ConfigError as exc:
            assert name in str(exc), f"without {name}: {exc}"
            needed.add(name)
    asked = {name for name, spec in env_entries().items() if spec.get("required")}
    assert asked <= needed, f"app.json requires what the service does not: {sorted(asked - needed)}"
    generated = {name for name, spec in env_entries().items() if spec.get("generator")}
    from_addons = set().union(*(ADDON_VARS.get(s, set()) for s in addon_services(app_json())))
    assert needed <= asked | generated | from_addons


def test_every_variable_the_config_reads_is_in_env_example():
    env = RecordingEnv(provided_at_deploy())
    Config.from_env(env)
    unknown = env.read - env_example_names() - set(LOCAL_ONLY)
    assert not unknown, f"handoff/config.py reads variables .env.example does not document: {sorted(unknown)}"

