"""`flask --app app scenarios run|check PATH...`: the transfer scenario runner (devtools/scenarios).

The arguments go as they are to `python -m devtools.scenarios` (its --help lists them), which needs
no app: the runner talks to a running `make run` or starts a local stack of its own.
"""
from __future__ import annotations

import click
from flask.cli import AppGroup

scenarios = AppGroup("scenarios", help="Run transfer scenarios (YAML) against Handoff in local mode.")

_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _main(command: str, args: tuple[str, ...]) -> None:
    from devtools.scenarios.cli import main   # devtools only when the command runs: deployments need not ship it

    raise SystemExit(main([command, *args], prog="flask --app app scenarios"))


@scenarios.command("run", context_settings=_PASS_THROUGH, with_appcontext=False,
                   help="Run scenario files or directories: PATH... [--junit FILE] [--jobs N] [--use-running]")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(args: tuple[str, ...]) -> None:
    _main("run", args)


@scenarios.command("check", context_settings=_PASS_THROUGH, with_appcontext=False,
                   help="Validate scenario files only: PATH...")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def check(args: tuple[str, ...]) -> None:
    _main("check", args)
