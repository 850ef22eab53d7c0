"""The Dockerfile and compose.yaml run the Procfile's processes, and nothing else decides how they start."""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess

from .manifests import ROOT, compose, dockerfile, dockerfile_default_base, dockerfile_entrypoint, procfile, scaled_types


def run_entrypoint(tmp_path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """Run the image's ENTRYPOINT with the host's sh in a copy of the Procfile's directory, where `env`
    (the first word of every Procfile line) is a stub that prints the arguments it was given."""
    shutil.copy(ROOT / "Procfile", tmp_path / "Procfile")
    stub = tmp_path / "bin" / "env"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    path = f"{stub.parent}{os.pathsep}{os.environ['PATH']}"
    done = subprocess.run([*dockerfile_entrypoint(), *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=10, env={"PATH": path, "PORT": "5123", **(env or {})})
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def procfile_argv(tmp_path, process_type: str, env: dict[str, str] | None = None) -> list[str]:
    """What the shell makes of that Procfile line (as honcho and Heroku run it), with the same stub."""
    return run_entrypoint(tmp_path, "sh", "-c", f"exec {procfile()[process_type]}", env=env)


def test_the_entrypoint_runs_each_procfile_line(tmp_path):
    for process_type in procfile():
        argv = run_entrypoint(tmp_path, process_type)
        assert argv == procfile_argv(tmp_path, process_type), process_type
    web = run_entrypoint(tmp_path, "web", env={"WEB_CONCURRENCY": "3"})
    assert "0.0.0.0:5123" in web and web[web.index("--workers") + 1] == "3"


def test_the_entrypoint_appends_arguments_and_runs_other_commands(tmp_path):
    assert run_entrypoint(tmp_path, "worker", "--burst") == procfile_argv(tmp_path, "worker") + ["--burst"]
    assert run_entrypoint(tmp_path, "env", "flask", "--app", "app", "routing check") == \
        ["flask", "--app", "app", "routing check"]


def test_the_image_starts_web_by_default_as_a_non_root_user():
    text = dockerfile()
    assert re.search(r'^CMD \["web"\]$', text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.MULTILINE)
    # Runtime requirements only, installed before the code is copied (a code edit keeps that layer).
    assert not re.search(r"^(RUN|COPY) .*requirements-dev", text, re.MULTILINE)
    assert text.index("pip install -r requirements.txt") < text.index("COPY . .")


def test_the_image_uses_the_python_version_heroku_uses():
    version = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+", version), "major form (3.x): Heroku then takes the latest patch release"
    assert dockerfile_default_base().startswith(f"python:{version}-"), dockerfile_default_base()
    assert not (ROOT / "runtime.txt").exists(), "runtime.txt would win over .python-version on Heroku"


def test_the_image_leaves_out_tests_secrets_and_local_state():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {"tests", ".env", ".venv", "var", ".git", "requirements-dev.txt"} <= ignored


def test_compose_runs_the_procfiles_processes_with_redis():
    services = compose()["services"]
    for process_type in scaled_types():
        command = services[process_type]["command"]
        assert command in (process_type, [process_type]), f"{process_type}: {command!r}"
        assert services[process_type]["env_file"] == ".env"
        assert services[process_type]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert services[process_type]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert set(services) == scaled_types() | {"redis"}
    redis = services["redis"]
    assert redis["image"].startswith("redis:7")
    assert "--appendonly" in redis["command"] and redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert "redis-cli" in redis["healthcheck"]["test"]
    assert services["worker"]["healthcheck"] == {"disable": True}
