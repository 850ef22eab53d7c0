"""`flask routing ...`: look at the recipients file from a shell, without dialing anything;
`flask keys migrate`: rename the keys an earlier release wrote under older names (handoff/migrations.py).

    flask --app app routing explain --var intent=billing --var language=es \
        [--at 2026-11-23T10:00:00-05:00] [--to auto] [--call-sid CA...] [--summary]
    flask --app app routing check [PATH]

`explain` prints the same JSON as `POST /api/routing/explain` (add `--summary` for a readable
account instead) and exits 1 when the transfer would be refused. `check` validates a recipients
file (default: TRANSFER_CONFIG) and exits 1 with the error naming file, entry and field.
"""
from __future__ import annotations

import json
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from handoff.clock import parse_instant

routing = AppGroup("routing", help="Inspect the recipients file (TRANSFER_CONFIG) and its routing rules.")


def _holder():
    holder = current_app.extensions["handoff"].routing
    if holder is None:
        raise click.ClickException("no recipients file is configured (set TRANSFER_CONFIG)")
    return holder


def _variables(pairs: tuple[str, ...]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="'--var'")
        variables[name.strip()] = value
    return variables


def _at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--at'") from None


def summary(result: dict) -> str:
    """A readable account of an explain result."""
    lines = [f"to {result['to']!r} at {result['at']}"]
    if result.get("error"):
        error = result["error"]
        lines.append(f"REFUSED ({error.get('field')}): {error.get('message')}")
    if result.get("rules"):
        lines.append("rules:")
        for trace in result["rules"]:
            mark = "->" if trace.get("selected") else ("ok" if trace.get("matched") else "--")
            lines.append(f"  {mark} {trace.get('rule')}: {trace.get('why', '')}")
    if result.get("selected_rule"):
        lines.append(f"selected rule: {result['selected_rule']}")
    if result.get("recipients"):
        lines.append("recipients, in order:")
        for i, r in enumerate(result["recipients"], 1):
            where = r.get("address") or ("(from its webhook)" if r.get("type") == "dynamic" else "")
            skipped = f"  [skipped: {r['skipped']}]" if r.get("skipped") else ""
            lines.append(f"  {i}. {r.get('name') or '(number)'} {r.get('type', '')} {where}{skipped}".rstrip())
    if result.get("settings"):
        s = result["settings"]
        lines.append(f"mode: {s.get('mode')}, last resort: {result.get('last_resort')}")
    if result.get("reasons"):
        lines.append("why:")
        lines.extend(f"  - {reason}" for reason in result["reasons"])
    return "\n".join(lines)


@routing.command("explain")
@click.option("--var", "pairs", multiple=True, metavar="NAME=VALUE", help="A variable (repeatable).")
@click.option("--to", default="auto", show_default=True, help="A recipient, group, rotation, rule or 'auto'.")
@click.option("--at", "at", default=None, metavar="ISO-TIME",
              help="Evaluate at this time (default: the service's clock, HANDOFF_CLOCK in local mode, else now).")
@click.option("--call-sid", default=None, help="Also use this live call's variables (reads Redis).")
@click.option("--summary", "readable", is_flag=True, help="Print a readable account instead of JSON.")
def explain_command(pairs, to, at, call_sid, readable):
    """Which recipients a transfer would reach, in order, and why (dials nothing)."""
    router = _holder().current
    call_variables: dict[str, str] = {}
    if call_sid:
        store = current_app.extensions["handoff"].store
        call = store.get_call(call_sid)
        if call is None:
            raise click.ClickException(f"no call {call_sid} is known to Handoff")
        call_variables = {"caller": call.get("from", ""), "from": call.get("from", ""), "to": call.get("to", ""),
                          **store.get_call_variables(call_sid)}
    now = _at(at) or current_app.extensions["handoff"].ctx.clock.now()
    result = router.explain(variables=_variables(pairs), call_variables=call_variables, now=now, to=to)
    click.echo(summary(result) if readable else json.dumps(result, indent=2, default=str))
    if not result.get("ok"):
        raise SystemExit(1)


@routing.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def check_command(path):
    """Validate a recipients file (default: the one loaded, TRANSFER_CONFIG)."""
    from handoff.routing import RoutingError, load_router

    runtime = current_app.extensions["handoff"]
    if path is None:
        path = _holder().path
    try:
        router = load_router(path, runtime.config.allow_list)
    except RoutingError as exc:
        raise click.ClickException(exc.message) from None
    c = router.config
    click.echo(f"{path}: OK ({len(c.recipients)} recipients, {len(c.groups)} groups, "
               f"{len(c.rotations)} rotations, {len(c.rules)} rules)")


keys = AppGroup("keys", help="Maintain Handoff's Redis keys.")


@keys.command("migrate")
def migrate_command():
    """Rename keys an earlier release wrote under older names (the workers do it by themselves at start)."""
    from handoff.migrations import migrate_key_layout

    store = current_app.extensions["handoff"].store
    counts = migrate_key_layout(store.redis, store.keys, limit=None)
    click.echo(", ".join(f"{name}: {value}" for name, value in counts.items() if name != "complete"))
