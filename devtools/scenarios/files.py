"""Reading scenario files: YAML, the schema, and the cross-checks against their recipients file.

Every problem is one line naming the file, the scenario and the field; all of them are collected
before anything runs (`ScenarioFileError.lines`).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml
from marshmallow import ValidationError

from handoff.routing import Router, RoutingError
from handoff.routing.loader import load_config, parse_config
from handoff.routing.model import Config

from .schema import NOTHING, ScenarioFileSchema, errors, is_address, scenario_label

DEFAULT_TIMEOUT = 120.0     # seconds a scenario may take to reach its outcome
SPECIAL_ENDS = ("agent", "hung-up")


class ScenarioFileError(Exception):
    """Invalid scenario files: one line per problem."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class Recipients:
    """The recipients file scenarios run against: a file, or a document written inline."""

    key: str                  # what makes two scenarios share a service: the resolved path or the text's hash
    label: str                # how messages name it
    config: Config
    path: Path | None = None
    text: str | None = None   # an inline document (written to a file for the service)


@dataclass
class Scenario:
    """One scenario, validated, with its file's defaults applied."""

    file: Path
    index: int
    name: str
    recipients: Recipients
    clock: datetime | None
    caller: dict
    parties: dict
    start: dict
    expect: dict
    timeout: float
    description: str = ""
    before: list = field(default_factory=list)   # earlier transfers on the same call: [{start, outcome?}]

    @property
    def label(self) -> str:
        return f"{display(self.file)}: {self.name}"

    @property
    def pinned_caller(self) -> str | None:
        """The caller's address when the scenario (or its file) names one: such scenarios run one at a time."""
        return self.caller.get("number") or self.caller.get("sip")


def display(path: Path) -> str:
    """A path as the user wrote it, relative to the working directory when under it."""
    try:
        return os.path.relpath(path) if not os.path.relpath(path).startswith("..") else str(path)
    except ValueError:
        return str(path)


def scenario_files(paths: list[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """The YAML files named or found (recursively, sorted) under the paths; and the paths that are missing."""
    found, missing = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            missing.append(f"{raw}: no such file or directory")
    return list(dict.fromkeys(p.resolve() for p in found)), missing


def load(paths: list[str | os.PathLike]) -> list[Scenario]:
    """Every scenario under the paths; raises ScenarioFileError listing every problem of every file."""
    files, problems = scenario_files(paths)
    if not files and not problems:
        problems.append(f"{', '.join(map(str, paths))}: no scenario files (*.yaml, *.yml)")
    scenarios: list[Scenario] = []
    for path in files:
        try:
            scenarios += load_file(path)
        except ScenarioFileError as exc:
            problems += exc.lines
    if problems:
        raise ScenarioFileError(problems)
    return scenarios


def load_file(path: Path) -> list[Scenario]:
    """The scenarios of one file; raises ScenarioFileError (lines prefixed with the file)."""
    name = display(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioFileError([f"{name}: cannot read it ({exc.strerror or exc})"]) from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioFileError([f"{name}: not valid YAML{at}: {problem}"]) from None
    if not isinstance(raw, dict):
        raise ScenarioFileError([f"{name}: must be a mapping with recipients (or recipients_inline) and scenarios"])
    try:
        data = ScenarioFileSchema().load(raw)
    except ValidationError as exc:
        raise ScenarioFileError([f"{name}: {line}" for line in errors(exc.messages, raw)]) from None
    recipients = _recipients(path, data)
    problems: list[str] = []
    scenarios, seen = [], set()
    for index, item in enumerate(data["scenarios"]):
        where = f"{name}: {scenario_label(raw, index)}"
        if item["name"] in seen:
            problems.append(f"{where}: name: another scenario in this file has this name")
        seen.add(item["name"])
        problems += [f"{where}: {line}" for line in _cross_check(item, recipients)]
        caller = dict(data.get("caller") or {})
        own = item.get("caller") or {}
        if "number" in own or "sip" in own:
            caller.pop("number", None), caller.pop("sip", None)
        caller.update(own)
        scenarios.append(Scenario(
            file=path, index=index, name=item["name"], recipients=recipients, clock=item.get("clock", data.get("clock")),
            caller=caller, parties=item.get("recipients") or {}, start=item["start"], expect=item["expect"],
            timeout=item.get("timeout") or data.get("timeout") or DEFAULT_TIMEOUT,
            description=item.get("description", ""), before=item.get("before") or []))
    if problems:
        raise ScenarioFileError(problems)
    return scenarios


def _recipients(path: Path, data: dict) -> Recipients:
    name = display(path)
    try:
        if "recipients" in data:
            target = (path.parent / data["recipients"]).resolve()
            return Recipients(key=str(target), label=display(target), config=load_config(target), path=target)
        text = yaml.safe_dump(data["recipients_inline"], sort_keys=False, allow_unicode=True)
        label = f"{name} (recipients_inline)"
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return Recipients(key=f"inline:{digest}", label=label, config=parse_config(text, label), text=text)
    except RoutingError as exc:
        field = "recipients" if "recipients" in data else "recipients_inline"
        raise ScenarioFileError([f"{name}: {field}: {exc.message}"]) from None


def _cross_check(item: dict, recipients: Recipients) -> list[str]:
    """Names the scenario uses that its recipients file does not know."""
    config, label = recipients.config, recipients.label
    problems = []

    def check(name: str, where: str, *, agents: bool = True, dynamic: bool = False, special=()) -> None:
        if name in special or is_address(name):
            return
        entry = config.recipients.get(name)
        if entry is not None:
            if entry.type == "dynamic" and not dynamic:
                problems.append(f"{where}: {name!r} is dynamic (its webhook names whom to dial): "
                                f"use the recipient it names")
            elif entry.type == "agent" and not agents:
                problems.append(f"{where}: {name!r} is an AI agent: it has no phone to answer")
            return
        for kind, names in (("group", config.groups), ("rotation", config.rotations),
                            ("rule", {r.name for r in config.rules})):
            if name in names:
                problems.append(f"{where}: {name!r} is a {kind}, not a recipient: name its recipients")
                return
        others = f"nor {', '.join(special)} or an address" if special else "nor an address"
        problems.append(f"{where}: {name!r} is not a recipient in {label} ({others})")

    for name in item.get("recipients") or {}:
        check(name, f"recipients.{name}", agents=False)
    expect = item["expect"]
    for index, step in enumerate(expect.get("path") or []):
        for member in step if isinstance(step, list) else [step]:
            check(member, f"expect.path[{index}]", dynamic=True)
    for name, heard in (expect.get("heard") or {}).items():
        check(name, f"expect.heard.{name}", agents=False)
    if "caller_ends" in expect:
        check(expect["caller_ends"], "expect.caller_ends", special=SPECIAL_ENDS)
    problems += _check_start(item["start"], config, label)
    return problems


def _check_start(start: dict, config: Config, label: str) -> list[str]:
    to = start["to"]
    router = Router(config)
    if start["via"] == "tool":
        from handoff.routing.tools import destinations

        offered = [name for name, _ in destinations(router)]
        if to not in offered:
            return [f"start.to: {to!r} is not one of the tool's destinations ({', '.join(offered)})"]
        return []
    if to == "auto" or to in router.names() or is_address(to):
        return []
    return [f"start.to: {to!r} is not a recipient, group, rotation or rule in {label}, nor auto or an address"]


__all__ = ["DEFAULT_TIMEOUT", "NOTHING", "Recipients", "Scenario", "ScenarioFileError", "display", "load",
           "load_file", "scenario_files"]
