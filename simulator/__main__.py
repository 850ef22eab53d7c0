"""python -m simulator --host H --port P --account-sid AC… --auth-token T --personas FILE"""

import argparse
import os
import sys

from simulator.core import Simulator
from simulator.server import ServerThread
from simulator.settings import SimSettings
from simulator.spec import Spec


def main(argv=None):
    """Run the simulator in the foreground until interrupted."""
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m simulator", description="Local Twilio voice simulator")
    parser.add_argument("--host", default=env.get("SIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get("SIM_PORT", "8099")))
    parser.add_argument("--account-sid", default=env.get("TWILIO_ACCOUNT_SID"))
    parser.add_argument("--auth-token", default=env.get("TWILIO_AUTH_TOKEN"))
    parser.add_argument("--personas", default=env.get("SIM_PERSONAS"))
    parser.add_argument("--spec", default=None, help="Twilio OAI file (default: $TWILIO_OAI_SPEC or ../shared/twilio-oai/)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a timing setting, e.g. --set play_seconds=2 (also SIM_<NAME> env vars)")
    args = parser.parse_args(argv)
    if not args.account_sid or not args.auth_token:
        parser.error("--account-sid and --auth-token (or TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN) are required")
    settings = SimSettings.from_env().update(dict(s.split("=", 1) for s in args.set))
    try:
        spec = Spec.load(args.spec)
    except FileNotFoundError as exc:
        print(f"warning: Twilio OAI spec not found ({exc}); parameters are not validated", file=sys.stderr)
        spec = None
    sim = Simulator(account_sid=args.account_sid, auth_token=args.auth_token, settings=settings, spec=spec)
    if args.personas:
        sim.load_personas(args.personas)
    server = ServerThread(sim, args.host, args.port)
    print(f"Twilio simulator on {server.url} (account {args.account_sid})", flush=True)
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sim.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
