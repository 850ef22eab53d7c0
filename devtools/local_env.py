"""var/local.env: the environment a running `make run` uses, written by it and read by the tools
that talk to it (`flask routing …`, the scenario runner) so that nobody rebuilds it by hand.
When make run stops, the file becomes var/last-run.env: enough for `flask routing check/explain`,
which connect to nothing."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
FILE_NAME = "local.env"
LAST_RUN_NAME = "last-run.env"


def var_dir(env: Mapping[str, str] | None = None, root: Path = ROOT) -> Path:
    """`make run`'s state directory: HANDOFF_VAR_DIR, else <root>/var."""
    value = (os.environ if env is None else env).get("HANDOFF_VAR_DIR")
    return Path(value) if value else root / "var"


def local_env_path(env: Mapping[str, str] | None = None, root: Path = ROOT) -> Path:
    """Where `make run` writes its environment."""
    return var_dir(env, root) / FILE_NAME


def local_defaults(env: Mapping[str, str], root: Path = ROOT) -> tuple[Path, dict[str, str]] | None:
    """The running make run's environment (var/local.env), else the last one's (var/last-run.env)."""
    directory = var_dir(env, root)
    for path in (directory / FILE_NAME, directory / LAST_RUN_NAME):
        values = read_local_env(path)
        if values:
            return path, values
    return None


def retire_local_env(path: Path) -> None:
    """make run has stopped: local.env goes, its content stays as last-run.env."""
    try:
        os.replace(path, path.with_name(LAST_RUN_NAME))
    except FileNotFoundError:
        pass


def read_local_env(path: Path) -> dict[str, str]:
    """The variables in `path` ({} when it does not exist)."""
    if not path.is_file():
        return {}
    # No ${...} expansion: the values are written literally.
    return {name: value for name, value in dotenv_values(path, interpolate=False).items() if value is not None}


def write_local_env(path: Path, env: Mapping[str, str]) -> None:
    """Write `env` to `path` (0600: it holds the API token), atomically."""
    lines = [f"# Written by `make run` while it runs (then renamed {LAST_RUN_NAME}): the environment it uses."]
    lines += [f"{name}={_quote(value)}" for name, value in sorted(env.items())]
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def _quote(value: str) -> str:
    # Single quotes: python-dotenv reads the value as is (no escapes, no ${} expansion).
    if value and all(c.isalnum() or c in "+-_./:,@=%" for c in value):
        return value
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
