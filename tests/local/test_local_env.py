"""var/local.env (devtools/local_env.py): what make run writes is what `flask routing` reads back,
and only a bare create_app() (the flask CLI, gunicorn) ever reads it: never a test's app."""
from __future__ import annotations

import stat

import pytest

from devtools.local_env import local_defaults, read_local_env, retire_local_env, write_local_env

AWKWARD = {"API_TOKEN": "crm:abc def#ghi", "QUOTE": "it's \"quoted\" $HOME ${X}", "EMPTY": "",
           "URL": "http://127.0.0.1:5000/x?a=1&b=2", "TRANSFER_CONFIG": "/a path/with spaces.yaml"}


def test_what_is_written_reads_back_the_same(tmp_path):
    path = tmp_path / "local.env"
    write_local_env(path, AWKWARD)
    assert read_local_env(path) == AWKWARD
    assert stat.S_IMODE(path.stat().st_mode) == 0o600      # it holds the API token


def test_the_last_run_stays_readable_after_a_stop(tmp_path):
    write_local_env(tmp_path / "local.env", {"REDIS_URL": "redis://127.0.0.1:6390/0"})
    env = {"HANDOFF_VAR_DIR": str(tmp_path)}
    assert local_defaults(env) == (tmp_path / "local.env", {"REDIS_URL": "redis://127.0.0.1:6390/0"})
    retire_local_env(tmp_path / "local.env")
    assert not (tmp_path / "local.env").exists()
    assert local_defaults(env) == (tmp_path / "last-run.env", {"REDIS_URL": "redis://127.0.0.1:6390/0"})
    assert local_defaults({"HANDOFF_VAR_DIR": str(tmp_path / "none")}) is None


def test_an_app_built_with_overrides_never_reads_local_env(tmp_path, monkeypatch):
    write_local_env(tmp_path / "local.env", {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t", "REDIS_URL": "redis://127.0.0.1:1/0",
        "PUBLIC_BASE_URL": "http://127.0.0.1:1", "API_TOKEN": "local-0123456789abcdef", "AGENT": "wss://a.example"})
    monkeypatch.setenv("HANDOFF_VAR_DIR", str(tmp_path))
    from app import create_app

    with pytest.raises(SystemExit, match="TWILIO_ACCOUNT_SID"):
        create_app({"TWILIO_ACCOUNT_SID": "", "REDIS_URL": ""})
