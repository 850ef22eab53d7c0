"""Loading a recipients file: YAML, environment references, validation, and building the Config."""
from __future__ import annotations

import os

import yaml
from marshmallow import ValidationError

from ..targets import DeliverySettings, LastResort
from .errors import RoutingError
from .hours import Closure, Hours, Window
from .model import (LAST_RESORT, Condition, Config, Group, Override, Recipient,
                    Rotation, Rule, Webhook)
from .schema import FileSchema


def flatten_messages(messages, path=()):
    """(path, message) pairs from marshmallow's nested error messages."""
    if isinstance(messages, dict):
        for key, sub in messages.items():
            yield from flatten_messages(sub, path + (key,))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        yield path, "; ".join(messages)
    elif isinstance(messages, list):
        for i, sub in enumerate(messages):
            yield from flatten_messages(sub, path + (i,))
    else:
        yield path, str(messages)


def _describe_path(path, raw) -> tuple[str, str]:
    """('recipients[2] \\'billing\\'', 'delivery.timeout') for a marshmallow error path."""
    entry, rest, node = "", list(path), raw
    if len(rest) >= 2 and isinstance(rest[1], int) and isinstance(node, dict):
        section, index = rest[0], rest[1]
        items = node.get(section)
        name = None
        if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
            name = items[index].get("name")
        entry = f"{section}[{index}]" + (f" '{name}'" if name else "")
        rest = rest[2:]
    elif len(rest) >= 2 and rest[0] == "hours":
        entry, rest = f"hours '{rest[1]}'", rest[2:]
    field = ""
    for part in rest:
        if part == "_schema":
            continue
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return entry, field


def _fail(path: str, entry: str, field: str, message: str, more: int = 0) -> RoutingError:
    where = ": ".join(p for p in (path, entry, f"field '{field}'" if field else "") if p)
    extra = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    dotted = ".".join(p for p in (entry.split(" ")[0] if entry else "", field) if p)
    return RoutingError(f"{where}: {message}{extra}", field=dotted or None)


# --- build ---------------------------------------------------------------------------------------

def load_config(path: str | os.PathLike) -> Config:
    """Read, validate and cross-check the recipients file; raises RoutingError (one line)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise RoutingError(f"{path}: cannot read the recipients file ({exc.strerror or exc})") from None
    return parse_config(text, path)


def parse_config(text: str, path: str = "<recipients>") -> Config:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RoutingError(f"{path}: {where}not valid YAML ({problem})") from None
    if not isinstance(raw, dict):
        raise RoutingError(f"{path}: the file must be a mapping with at least 'recipients:'")
    try:
        data = FileSchema().load(raw)
    except ValidationError as exc:
        errors = list(flatten_messages(exc.messages))
        p, message = errors[0]
        entry, field = _describe_path(p, raw)
        raise _fail(path, entry, field, message, len(errors) - 1) from None
    return _build(data, path)


def _build(data: dict, path: str) -> Config:
    default_tz = data.get("timezone")

    def hours_of(value, entry: str, field: str) -> Hours | None:
        if value is None:
            return None
        if isinstance(value, str):
            if value not in named_hours:
                known = ", ".join(sorted(named_hours)) or "none defined"
                raise _fail(path, entry, field, f"no hours named {value!r} (known: {known})")
            return named_hours[value]
        return make_hours(value, None, entry, field)

    def make_hours(h: dict, name, entry, field) -> Hours:
        tz = h.get("timezone") or default_tz
        if not tz:
            raise _fail(path, entry, f"{field}.timezone", "a timezone is required (here or top-level 'timezone')")
        windows = tuple(Window(w["days"], w["open"], w["close"]) for w in h["weekly"])
        closures = tuple(Closure(c.get("date") or c["start"], c.get("date") or c.get("end") or c["start"],
                                 c.get("reason")) for c in h["closed"])
        return Hours(tz, windows, closures, name)

    named_hours: dict = {}
    for name, h in data["hours"].items():
        named_hours[name] = make_hours(h, name, f"hours '{name}'", "")

    names: dict[str, str] = {}

    def claim(name: str, entry: str) -> None:
        if name == LAST_RESORT or name == "auto":
            raise _fail(path, entry, "name", f"{name!r} is reserved")
        if name in names:
            raise _fail(path, entry, "name", f"{name!r} is already used by {names[name]}")
        names[name] = entry

    recipients: dict[str, Recipient] = {}
    for i, r in enumerate(data["recipients"]):
        entry = f"recipients[{i}] '{r['name']}'"
        claim(r["name"], entry)
        sip = r.get("sip") or {}
        hook = r.get("webhook")
        rec = Recipient(
            name=r["name"], type=r["type"], description=r["description"],
            languages=tuple(r["languages"]), hours=hours_of(r.get("hours"), entry, "hours"),
            delivery=r["delivery"], fallback=r["fallback"], variables=r["variables"], expose=r["expose"],
            number=r.get("number"), extension=r.get("extension"), allowed_prefixes=tuple(r["allowed_prefixes"]),
            sip_uri=sip.get("uri"), sip_headers=tuple(sip.get("headers", {}).items()),
            sip_username=sip.get("username") or None, sip_password=sip.get("password") or None,
            identity=r.get("identity"), agent_url=r.get("url"),
            webhook=Webhook(hook["url"], hook["secret"], hook["timeout"], tuple(hook["headers"].items()))
            if hook else None,
        )
        recipients[rec.name] = rec

    groups: dict[str, Group] = {}
    for i, g in enumerate(data["groups"]):
        entry = f"groups[{i}] '{g['name']}'"
        claim(g["name"], entry)
        for m in g["members"]:
            if m not in recipients:
                raise _fail(path, entry, "members", f"{m!r} is not a recipient")
            if g["strategy"] == "parallel" and recipients[m].type == "dynamic":
                raise _fail(path, entry, "members",
                            f"{m!r} is dynamic and cannot ring in parallel; use a sequential group")
        groups[g["name"]] = Group(g["name"], g["strategy"], g["members"], g["description"], g["delivery"],
                                  g["fallback"], hours_of(g.get("hours"), entry, "hours"), g["expose"])

    rotations: dict[str, Rotation] = {}
    for i, r in enumerate(data["rotations"]):
        entry = f"rotations[{i}] '{r['name']}'"
        claim(r["name"], entry)
        for m in r["members"]:
            if m not in recipients:
                raise _fail(path, entry, "members", f"{m!r} is not a recipient")
        overrides = []
        for j, o in enumerate(r["overrides"]):
            if o["member"] not in recipients:
                raise _fail(path, entry, f"overrides[{j}].member", f"{o['member']!r} is not a recipient")
            first = o.get("date") or o["start"]
            overrides.append(Override(first, o.get("date") or o.get("end") or first, o["member"], o.get("reason")))
        rotations[r["name"]] = Rotation(r["name"], r["timezone"], r["start"], r["handover"], r["members"],
                                        r["shift_days"], tuple(overrides), r["description"], r["delivery"],
                                        r["fallback"], r["expose"])

    rules = []
    for i, r in enumerate(data["rules"]):
        entry = f"rules[{i}] '{r['name']}'"
        claim(r["name"], entry)
        conditions = tuple(Condition(var, op, arg) for var, (op, arg) in r["when"].items())
        rules.append(Rule(r["name"], r["to"], conditions, hours_of(r.get("during"), entry, "during"),
                          hours_of(r.get("hours"), entry, "hours"), r["fallback"], r["description"],
                          r["delivery"], r["expose"]))

    targets = set(recipients) | set(groups) | set(rotations)

    def check_ref(name: str, entry: str, field: str, allow_last_resort: bool = True) -> None:
        if name == LAST_RESORT and allow_last_resort:
            return
        if name not in targets:
            raise _fail(path, entry, field, f"{name!r} is not a recipient, group or rotation")

    for i, r in enumerate(data["recipients"]):
        for f in r["fallback"]:
            check_ref(f, f"recipients[{i}] '{r['name']}'", "fallback")
    for section in ("groups", "rotations", "rules"):
        for i, item in enumerate(data[section]):
            for f in item["fallback"]:
                check_ref(f, f"{section}[{i}] '{item['name']}'", "fallback")
    for i, r in enumerate(rules):
        check_ref(r.to, f"rules[{i}] '{r.name}'", "to", allow_last_resort=False)
    for f in data["fallback"]:
        check_ref(f, "", "fallback")

    tool = data["tool"]
    return Config(path=path, recipients=recipients, groups=groups, rotations=rotations, rules=tuple(rules),
                  variables=data["variables"], defaults=data["defaults"], fallback=data["fallback"],
                  hours=named_hours, tool_name=tool.get("name", "transfer_call"),
                  tool_description=tool.get("description"))


def delivery_settings(*layers: dict) -> DeliverySettings:
    """DeliverySettings from layered overrides (later layers win)."""
    merged: dict = {}
    for layer in layers:
        merged.update({k: v for k, v in (layer or {}).items() if v is not None})
    if "last_resort" in merged:
        merged["last_resort"] = LastResort(merged["last_resort"])
    return DeliverySettings(**merged)
