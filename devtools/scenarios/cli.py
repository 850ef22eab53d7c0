"""`python -m devtools.scenarios run PATH...` (and `flask --app app scenarios run PATH...`).

Exit status: 0 every scenario passed, 1 one failed (or could not run), 2 invalid scenario files or
arguments (nothing ran).
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def _setting(text: str) -> tuple[str, float | str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE, e.g. speech_seconds_per_char=0.01")
    try:
        return name, float(value)
    except ValueError:
        return name, value


def parser(prog: str = "python -m devtools.scenarios") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog,
                                description="Run transfer scenarios (YAML) against Handoff in local mode.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run scenarios; a table, JUnit XML on request, exit 1 on a failure")
    run.add_argument("paths", nargs="+", metavar="PATH", help="scenario files, or directories of them (*.yaml)")
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML (one testcase per scenario) to FILE")
    run.add_argument("--jobs", "-j", type=int, default=8, metavar="N", help="scenarios run at once (default 8)")
    run.add_argument("-k", dest="select", metavar="TEXT", help="only scenarios whose name contains TEXT")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--use-running", dest="running", action="store_const", const="always", default="auto",
                       help="only use the running `make run` instance (fail if it is down or serves another "
                            "recipients file)")
    where.add_argument("--own-stack", dest="running", action="store_const", const="never",
                       help="always start a stack of their own, even when `make run` serves the same file")
    run.add_argument("--var", metavar="DIR", type=Path, help="make run's state directory (default var/, or "
                                                              "HANDOFF_VAR_DIR): where its local.env is")
    run.add_argument("--sim-set", metavar="NAME=VALUE", type=_setting, action="append", default=[],
                     help="a simulator setting for the stacks started here (e.g. speech_seconds_per_char=0.01)")
    run.add_argument("--keep-logs", action="store_true", help="keep the started stacks' logs and state")
    check = sub.add_parser("check", help="validate scenario files only (exit 2 when one is invalid)")
    check.add_argument("paths", nargs="+", metavar="PATH")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m devtools.scenarios") -> int:
    """Parse the arguments, run, print; the exit status (never a traceback: Ctrl-C included)."""
    args = parser(prog).parse_args(argv)
    try:
        return _main(args)
    except KeyboardInterrupt:     # whatever was started is stopped by then (run()'s finally)
        print("scenarios: interrupted", file=sys.stderr)
        return EXIT_FAILED


def _main(args) -> int:
    from .files import ScenarioFileError, load

    try:
        scenarios = load(args.paths)
    except ScenarioFileError as exc:
        print("\n".join(exc.lines), file=sys.stderr)
        print(f"\n{len(exc.lines)} problem{'s' if len(exc.lines) > 1 else ''} in the scenario files; nothing ran.",
              file=sys.stderr)
        return EXIT_INVALID
    if args.command == "check":
        print(f"{len(scenarios)} scenario{'s' if len(scenarios) != 1 else ''} valid.")
        return EXIT_OK
    if args.select:
        scenarios = [s for s in scenarios if args.select.casefold() in s.name.casefold()]
        if not scenarios:
            print(f"-k {args.select}: no scenario's name contains it", file=sys.stderr)
            return EXIT_INVALID
    return run(scenarios, args)


def run(scenarios, args) -> int:
    from . import junit, report, runner
    from .stacks import StackError, Stacks

    def progress(result, done, total):
        verdict = "PASS" if result.passed else "ERROR" if result.error else "FAIL"
        print(f"[{done}/{total}] {verdict:<5} {result.scenario.label} ({result.seconds:.1f} s)", file=sys.stderr,
              flush=True)

    stacks = Stacks(running=args.running, var_dir=args.var, sim_settings=dict(args.sim_set))
    results, keep = [], args.keep_logs
    restore = _stop_on_sigterm()
    try:
        wanted = list({s.recipients.key: s.recipients for s in scenarios}.values())
        endpoints = stacks.endpoints(wanted)
        for endpoint in {id(e): e for e in endpoints.values()}.values():
            print(f"running against {endpoint.origin}", file=sys.stderr)
        results = runner.run_all(scenarios, endpoints, jobs=args.jobs, progress=progress)
    except StackError as exc:
        print(f"scenarios: {exc}", file=sys.stderr)
        keep = True
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("scenarios: interrupted; stopping what was started", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:      # a bug here must still stop the stacks and say one line
        print(f"scenarios: the runner failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        keep = True
        return EXIT_FAILED
    finally:
        failed = any(not r.passed for r in results)
        try:
            stacks.close(keep_logs=keep or failed)
        finally:
            restore()
        if (keep or failed) and stacks.logs:
            print("logs of the stacks started here: " + ", ".join(map(str, stacks.logs.values())), file=sys.stderr)
    print(report.render(results))
    if args.junit:
        try:
            junit.write(results, args.junit)
        except OSError as exc:
            print(f"scenarios: --junit {args.junit}: cannot write it ({exc.strerror or exc})", file=sys.stderr)
            return EXIT_FAILED
        print(f"JUnit XML: {args.junit}", file=sys.stderr)
    return EXIT_OK if all(r.passed for r in results) else EXIT_FAILED


def _stop_on_sigterm():
    """SIGTERM (a CI job cancelled, `kill`) stops the run like Ctrl-C; the function that restores the handler."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)
