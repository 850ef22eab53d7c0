"""`make run`: Handoff in local mode (devtools/local_stack.py): embedded Redis, the Twilio simulator
(when no Twilio credentials are set), and the Procfile's web and worker processes under honcho.
Prints how to try it; Ctrl-C stops it all."""
from __future__ import annotations

import os
import signal
import sys

from dotenv import dotenv_values

from devtools.local_env import ROOT, var_dir
from devtools.local_stack import LocalStack, LocalStackError

DEMO_CALLER = "+14155550123"


def _stop_requested(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Start the stack, print how to try it, and stop it all on Ctrl-C (or SIGTERM)."""
    # Before anything starts: a Ctrl-C during start-up stops what was started, without a traceback.
    signal.signal(signal.SIGINT, _stop_requested)
    signal.signal(signal.SIGTERM, _stop_requested)
    dotenv = {k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}
    shell = {**dotenv, **os.environ}   # the shell's variables win over .env's, as python-dotenv does
    stack = None
    try:
        try:
            stack = LocalStack(var_dir(shell), simulator=not (shell.get("TWILIO_ACCOUNT_SID") and
                                                              shell.get("TWILIO_AUTH_TOKEN")))
            stack.start()
        except LocalStackError as exc:
            print(f"make run: {exc}", file=sys.stderr)
            return 1
        _print_welcome(stack)
        # Honcho stops web and worker when either dies; then everything else goes too.
        status = stack.wait()
        print(f"make run: web or worker exited (status {status}); stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nmake run: stopping (web and worker, the simulator, then Redis)", file=sys.stderr, flush=True)
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):   # from here on, more Ctrl-C changes nothing
            signal.signal(sig, signal.SIG_IGN)
        if stack is not None:
            stack.stop()


def _print_welcome(stack: LocalStack) -> None:
    env, base, token = stack.env, stack.base_url, stack.api_token
    token_origin = ("from API_TOKEN" if stack.token_from_env
                    else f"kept in {stack.var_dir / 'api-token'}, the same on every run")
    print(f"""
Handoff is running (local mode{', Twilio simulator' if stack.simulator else ''}).
  service      {base}          health: {base}/healthz
  API token    {token}   ({token_origin})
  inspector    {base}/inspector   (sign in with the API token)
  redis        {env['REDIS_URL']}
  recipients   {env['TRANSFER_CONFIG']}
  environment  {stack.var_dir / 'local.env'}   (read by `flask --app app routing …`)""")
    if stack.simulator:
        sim_url = stack.sim_url
        print(f"""  simulator    {sim_url}   (personas: examples/personas.yaml)

Try it, in a second shell from this directory (README.md, "Try a transfer", has more):
  . devtools/local.sh          # API, AUTH, SIM and new_call / wait_outcome, from {stack.var_dir / 'local.env'}
  CALL_SID=$(new_call)         # a scripted caller phones the agent's number {stack.agent_number}
  curl -s -H "$AUTH" -H 'Content-Type: application/json' -d '{{"to": "browser_console", "mode": "warm"}}' $API/calls/$CALL_SID/transfers
  curl -s -H "$AUTH" $API/calls/$CALL_SID                  # the call and its transfer: status, outcome, timeline
  curl -s -u $SIM $SIM_URL/sim/calls/$CALL_SID/heard       # what the caller heard
""")
    print("Ctrl-C stops everything (Redis last); the state stays under "
          f"{stack.var_dir} for the next `make run`.\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
