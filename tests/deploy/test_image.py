"""Where Docker runs: the image builds, and its web and worker containers serve a healthy /healthz.

One test (so one build, whichever pytest-xdist worker takes it); skipped, saying why, where there is no
Docker engine or no base image. Offline, HANDOFF_DOCKER_BASE_IMAGE names a local Python image to build on."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from devtools.embedded_redis import free_port, start_embedded_redis

from .manifests import ROOT, dockerfile_default_base

TAG = "handoff-deploy-test"
BUILD_SECONDS = 180


def docker(*args: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:2])}: {done.stderr.strip()[-2000:]}")
    return done


def wait_until(predicate, *, timeout: float, message: str, interval: float = 0.5):
    """Poll `predicate` until it returns something truthy (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{message}: not within {timeout} s")
        time.sleep(interval)
    return value


def docker_engine() -> str | None:
    """None when an engine answers, else why not."""
    if not shutil.which("docker"):
        return "no docker client"
    try:
        done = docker("info", "--format", "{{.ServerVersion}}", timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return "docker info did not answer within 20 s"
    if done.returncode != 0 or not done.stdout.strip():
        return f"no Docker engine: {(done.stderr.strip().splitlines() or ['docker info failed'])[-1]}"
    return None


def base_image() -> tuple[str, str | None]:
    """The image to build on, and why it can't be had (None when it can)."""
    base = os.environ.get("HANDOFF_DOCKER_BASE_IMAGE") or dockerfile_default_base()
    if docker("image", "inspect", base, check=False).returncode == 0:
        return base, None
    try:
        pulled = docker("pull", base, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        return base, f"docker pull {base} took over 120 s"
    if pulled.returncode != 0:
        return base, (f"base image {base} is not here and cannot be pulled ({pulled.stderr.strip()[-200:]}); "
                      "HANDOFF_DOCKER_BASE_IMAGE can name a local Python image")
    return base, None


def healthz(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return json.load(answer)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def health_status(container: str) -> str:
    return docker("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()


def test_the_image_serves_a_healthy_healthz(tmp_path):
    reason = docker_engine()
    if reason:
        pytest.skip(reason)
    base, reason = base_image()
    if reason:
        pytest.skip(reason)
    try:
        docker("build", "--build-arg", f"PYTHON_IMAGE={base}", "-t", TAG, str(ROOT), timeout=BUILD_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"docker build took over {BUILD_SECONDS} s")

    # The host's embedded Redis, reached through the host's network (--network host), like any REDIS_URL.
    redis = start_embedded_redis(tmp_path / "redis")
    port = free_port()
    env = {"TWILIO_ACCOUNT_SID": "AC" + "0123abcd" * 4, "TWILIO_AUTH_TOKEN": "an-auth-token",
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "REDIS_URL": redis.url,
           "API_TOKEN": "docker-test-token-0123456789", "AGENT": "wss://agent.example.com/relay",
           "REDIS_KEY_PREFIX": f"docker-{uuid.uuid4().hex[:8]}", "PORT": str(port), "BIND_HOST": "127.0.0.1",
           "WEB_CONCURRENCY": "1", "WORKER_PROCESSES": "1"}
    options = ["--network", "host", *(item for name, value in env.items() for item in ("-e", f"{name}={value}"))]
    suffix = uuid.uuid4().hex[:8]
    web, worker = f"handoff-web-{suffix}", f"handoff-worker-{suffix}"
    try:
        docker("run", "-d", "--name", web, "--health-interval", "1s", "--health-start-period", "1s", *options, TAG)
        docker("run", "-d", "--name", worker, "--no-healthcheck", *options, TAG, "worker")
        body = wait_until(lambda: (b := healthz(port)) and b["status"] == "ok" and b, timeout=60,
                          message="GET /healthz from the web container, with the worker container running")
        assert body["redis"] == "ok" and body["workers"] == 1
        wait_until(lambda: health_status(web) == "healthy", timeout=30, message="the image's HEALTHCHECK")
        assert docker("exec", web, "id", "-u").stdout.strip() != "0"
        assert docker("exec", web, "ls", "/app").stdout.split().count("tests") == 0
        processes = docker("top", worker).stdout
        assert "python -m workers --processes 1" in processes
    except AssertionError:
        for container in (web, worker):
            print(f"--- {container}\n" + docker("logs", "--tail", "40", container, check=False).stderr)
        raise
    finally:
        docker("rm", "-f", web, worker, check=False)
        redis.stop()
