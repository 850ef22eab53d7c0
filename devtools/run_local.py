"""`make run`: Handoff in local mode: embedded Redis, the Twilio simulator (when no Twilio
credentials are set), and the Procfile's web and worker processes under honcho."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from dotenv import dotenv_values

from devtools.embedded_redis import start_embedded_redis

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
AGENT_NUMBER = "+15005550006"
DEMO_CALLER = "+14155550123"


def _wait_http(url: str, *, timeout: float, watch: list[subprocess.Popen], expect: str | None = None) -> None:
    """Wait until `url` answers 200 (with `expect` in its body); fail early if a watched process died."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p for p in watch if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{' '.join(map(str, dead[0].args[:3]))} exited with status {dead[0].returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if expect is None or expect in response.read().decode(errors="replace"):
                    return
        except (urllib.error.HTTPError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def main() -> int:
    """Start everything, print how to try it, and stop it all on Ctrl-C."""
    env = {**os.environ, **{k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}}
    VAR.mkdir(exist_ok=True)
    port = int(env.get("PORT", "5000"))
    children: list[subprocess.Popen] = []
    redis = None
    stopping: list[bool] = []

    def stop(*_, status: int = 0):
        if stopping:     # Ctrl-C again while stopping: the first stop goes on (and kills what lingers)
            return
        stopping.append(True)
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis:
            redis.stop()     # last: the workers deregister from it as they stop
        sys.exit(status)

    # Before anything starts: a Ctrl-C during start-up stops what was started, without a traceback.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if not env.get("REDIS_URL"):
        redis = start_embedded_redis(VAR / "redis", port=int(env.get("LOCAL_REDIS_PORT", "6390")))
        env["REDIS_URL"] = redis.url
    local_twilio = not (env.get("TWILIO_ACCOUNT_SID") and env.get("TWILIO_AUTH_TOKEN"))
    sim_url = None
    if local_twilio:
        sim_port = int(env.get("SIM_PORT", "8099"))
        env["TWILIO_ACCOUNT_SID"] = "AC" + "0123456789abcdef" * 2
        env["TWILIO_AUTH_TOKEN"] = "local-simulator-token"
        sim_url = f"http://127.0.0.1:{sim_port}"
        env["TWILIO_API_BASE"] = sim_url
        children.append(subprocess.Popen(
            [sys.executable, "-m", "simulator", "--port", str(sim_port), "--personas",
             str(ROOT / "examples" / "personas.yaml"), "--set", "strict=true"], cwd=ROOT, env=env))
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    env.setdefault("API_TOKEN", "local-dev-token-" + secrets.token_hex(8))
    env.setdefault("AGENT", f"wss://127.0.0.1:{port}/demo/agent")
    env.setdefault("TRANSFER_CONFIG", str(ROOT / "examples" / "recipients.yaml"))
    env.setdefault("TRANSFER_ALLOWED_PREFIXES", "+1415555,+1628555")
    env.setdefault("HANDOFF_DEMO", "1")
    env["HANDOFF_LOCAL"] = "1"                 # local mode: the Inspector shows what each party heard
    env.setdefault("BIND_HOST", "127.0.0.1")   # local mode: the demo routes stay on this machine
    # One metrics directory for web and worker (Prometheus multiprocess mode), under var/ with the rest.
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR / "metrics"))
    env["PORT"] = str(port)
    # The Procfile names gunicorn and python: make them this venv's, as on Heroku's slug.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    children.append(subprocess.Popen([str(Path(sys.executable).with_name("honcho")), "start", "-f",
                                      str(ROOT / "Procfile")], cwd=ROOT, env=env))

    try:
        # /healthz from *this* service (not whatever else holds the port): it names its Redis state.
        _wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, watch=children, expect='"redis"')
        if sim_url:
            auth_header = (env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
            import requests

            deadline = time.monotonic() + 15
            while True:
                try:
                    if requests.get(f"{sim_url}/sim/settings", auth=auth_header, timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline or children[0].poll() is not None:
                    raise RuntimeError(f"the simulator at {sim_url} did not start (is SIM_PORT free?)")
                time.sleep(0.2)
            import requests

            auth = (env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"])
            base = env["PUBLIC_BASE_URL"]
            requests.post(f"{sim_url}/sim/numbers", auth=auth, timeout=5, json={
                "number": AGENT_NUMBER, "voice_url": f"{base}/voice/incoming",
                "voice_fallback_url": f"{base}/voice/fallback", "status_callback": f"{base}/voice/status"})
    except (RuntimeError, OSError) as exc:
        print(f"make run: {exc}", file=sys.stderr)
        stop(status=1)
    token = env["API_TOKEN"]
    base = env["PUBLIC_BASE_URL"]
    print(f"""
Handoff is running (local mode{', Twilio simulator' if sim_url else ''}).
  service      {base}          health: {base}/healthz
  inspector    {base}/inspector   (sign in with the API token: {token})
  redis        {env['REDIS_URL']}
  recipients   {env['TRANSFER_CONFIG']}""")
    if sim_url:
        auth = f"{env['TWILIO_ACCOUNT_SID']}:{env['TWILIO_AUTH_TOKEN']}"
        print(f"""  simulator    {sim_url}   (personas: examples/personas.yaml)

Try it: place a call from a scripted caller to the agent's number, then transfer it warm to the supervisor:
  CALL=$(curl -s -u {auth} -H 'Content-Type: application/json' \\
      -d '{{"from": "{DEMO_CALLER}", "to": "{AGENT_NUMBER}"}}' {sim_url}/sim/calls | python3 -c 'import json,sys; print(json.load(sys.stdin)["sid"])')
  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
      -d '{{"to": "browser_console", "mode": "warm", "reason": "refund"}}' {base}/api/calls/$CALL/transfers
  curl -s -H 'Authorization: Bearer {token}' {base}/api/calls/$CALL   # the transfer: status, outcome, timeline
  curl -s -u {auth} {sim_url}/sim/calls/$CALL/heard     # what the caller heard
""")
    else:
        print(f"\nAPI token: {token}\n")
    # Honcho stops both processes when either dies; then everything else goes too.
    children[-1].wait()
    stop(status=children[-1].returncode or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
