"""Readers of the deploy files (Procfile, .env.example, app.json, Dockerfile, compose.yaml) for the tests."""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

# Names .env.example mentions that app.json must not describe, and why.
LOCAL_ONLY = {
    "PORT": "Heroku sets it for each web dyno; make run picks its own",
    "SIM_PORT": "make run's simulator",
    "LOCAL_REDIS_PORT": "make run's embedded Redis",
    "BIND_HOST": "a dyno must listen on 0.0.0.0, the Procfile's default (make run uses 127.0.0.1)",
    "HANDOFF_LOCAL": "local mode (make run)",
    "HANDOFF_CLOCK": "local mode only: production refuses it",
}
# Config vars that an add-on in app.json sets: describing them in `env` would clash with the add-on.
ADDON_VARS = {"heroku-redis": {"REDIS_URL"}}
# Procfile process types that are not dynos to scale (Heroku's release phase).
NOT_SCALED = {"release"}

_ASSIGNMENT = re.compile(r"(?:^|[\s#])([A-Z][A-Z0-9_]*)=")


def procfile() -> dict[str, str]:
    """Process type -> command, as Heroku and honcho read the Procfile."""
    types = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and re.fullmatch(r"[A-Za-z0-9_-]+", name):
            types[name] = command.strip()
    return types


def scaled_types() -> set[str]:
    """The Procfile's process types that run as dynos (formation) or containers (compose)."""
    return set(procfile()) - NOT_SCALED


def env_example_names() -> set[str]:
    """Every variable .env.example names, set or commented out, several to a line included."""
    return {match for line in (ROOT / ".env.example").read_text().splitlines()
            for match in _ASSIGNMENT.findall(line)}


def app_json() -> dict:
    return json.loads((ROOT / "app.json").read_text())


def addon_services(manifest: dict) -> set[str]:
    """Add-on service names in app.json (`heroku-redis` for "heroku-redis:mini")."""
    plans = [a if isinstance(a, str) else a["plan"] for a in manifest.get("addons", [])]
    return {plan.split(":")[0] for plan in plans}


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def dockerfile_entrypoint() -> list[str]:
    """The Dockerfile's ENTRYPOINT, exec (JSON) form."""
    match = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", dockerfile(), re.MULTILINE)
    assert match, "the Dockerfile has no ENTRYPOINT in exec form"
    return json.loads(match.group(1))


def dockerfile_default_base() -> str:
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)", dockerfile(), re.MULTILINE)
    assert match, "the Dockerfile has no `ARG PYTHON_IMAGE=<default>`"
    return match.group(1)


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())
