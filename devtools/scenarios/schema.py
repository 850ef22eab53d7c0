"""The scenario file format (YAML) as marshmallow schemas: a typo in a key is an error, never ignored.

`errors(messages, raw)` turns marshmallow's nested messages into lines naming the scenario (by name,
else by index) and the field path, e.g. `scenario "closed on Sunday": recipients.billing_desk.does:
must be one of: accepts, declines, ...`. The reference is devtools/scenarios/README.md.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from handoff.routing.loader import flatten_messages
from handoff.state import Outcome, TransferMode

OUTCOMES = tuple(outcome.value for outcome in Outcome)
DOES = ("accepts", "declines", "answers", "voicemail", "fax", "never-answers", "busy", "unreachable",
        "hangs-up-mid-whisper")
VIA = ("api", "handoff_data", "tool")
MODES = tuple(mode.value for mode in TransferMode)
HEARD_KINDS = ("music", "silence", "beep", "bridged")   # heard items that name a kind, not a text
NOTHING = "nothing"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
ADDRESS = re.compile(r"^(\+[1-9]\d{6,14}|sips?:[^@\s]+@\S+|client:\S+)$", re.I)


def is_address(value: str) -> bool:
    """A raw address (E.164 number, SIP URI or client:identity) rather than a recipient's name."""
    return bool(ADDRESS.match(value.strip()))


class Strict(Schema):
    """Unknown keys are errors: a misspelt key must not silently change a scenario."""

    class Meta:
        unknown = RAISE


class Clock(fields.Field):
    """An ISO 8601 time with a UTC offset (YAML may already have read it as a datetime)."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        from handoff.clock import parse_instant

        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, date):
            raise ValidationError("needs a time and a UTC offset, e.g. 2026-11-23T10:00:00-05:00")
        if not isinstance(value, str):
            raise ValidationError("must be an ISO 8601 time with a UTC offset, e.g. 2026-11-23T10:00:00-05:00")
        try:
            return parse_instant(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class Scalars(fields.Dict):
    """Variables: names to strings, numbers or booleans (the service's own rules check the rest)."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$",
                                                                     error="not a valid variable name")),
                         values=fields.Raw(validate=_scalar), **kwargs)


def _scalar(value) -> bool:
    if isinstance(value, (dict, list)) or value is None:
        raise ValidationError("must be a string, a number or a boolean")
    return True


class HeardList(fields.Field):
    """`nothing`, or a list of heard items: texts (substrings, any case) or music, silence, beep, bridged."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value == NOTHING:
            return NOTHING
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValidationError("must be a list of heard items, or nothing")
        for item in value:
            if not isinstance(item, (str, int, float)) or isinstance(item, bool) or not str(item).strip():
                raise ValidationError(f"{item!r}: a heard item is a text or one of {', '.join(HEARD_KINDS)}")
            if str(item).strip() == NOTHING:
                raise ValidationError("'nothing' stands alone (heard: {party: nothing}), not in a list")
        return [str(item).strip() for item in value]


class PathField(fields.Field):
    """Recipients dialed in order; a parallel group's members as one inner list (any order)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError("must be a list of recipients, e.g. [billing_desk, billing_voicemail]")
        steps = []
        for item in value:
            members = item if isinstance(item, list) else [item]
            if not members or not all(isinstance(m, str) and m.strip() for m in members):
                raise ValidationError(f"{item!r}: each step is a recipient's name, an address, "
                                      "or a list of them (a parallel group)")
            steps.append([m.strip() for m in members] if isinstance(item, list) else members[0].strip())
        return steps


class CallerSchema(Strict):
    number = fields.String(validate=validate.Regexp(E164, error="must be an E.164 number, e.g. +14155550123"))
    sip = fields.String(validate=validate.Regexp(r"^sips?:[^@\s]+@\S+$", error="must be a SIP URI, e.g. "
                                                                                  "sip:alice@customer.example.com"))
    variables = Scalars()
    hangs_up_after = fields.Float(validate=validate.Range(min=0))   # seconds on hold, then the caller hangs up
    # What the caller answers at a prompt (a callback offer): a key pressed, or words said where speech is heard.
    presses = fields.String(validate=validate.Regexp(r"^[0-9*#]$", error="must be one key: 0-9, * or #"))
    says = fields.String(validate=validate.Length(min=1, max=200))

    @validates_schema
    def _one_address(self, data, **kwargs):
        if "number" in data and "sip" in data:
            raise ValidationError("give number or sip, not both", "sip")


class PartySchema(Strict):
    does = fields.String(required=True, validate=validate.OneOf(DOES, error="must be one of {choices}"))
    after = fields.Float(validate=validate.Range(min=0))          # seconds of ringing before answering
    presses = fields.String(validate=validate.Regexp(r"^[0-9*#wW]+$", error="must be keys: digits, * or #"))
    greeting = fields.Float(validate=validate.Range(min=0))       # a voicemail's greeting, in seconds
    hangs_up_after = fields.Float(validate=validate.Range(min=0))  # accepts, then hangs up this long after

    @validates_schema
    def _fits(self, data, **kwargs):
        if "presses" in data and data.get("does") != "answers":
            raise ValidationError("only with does: answers (accepts and declines press their keys)", "presses")
        if "greeting" in data and data.get("does") != "voicemail":
            raise ValidationError("only with does: voicemail", "greeting")
        if "hangs_up_after" in data and data.get("does") != "accepts":
            raise ValidationError("only with does: accepts", "hangs_up_after")
        if "after" in data and data.get("does") in ("never-answers", "busy", "unreachable"):
            raise ValidationError(f"{data['does']} never answers: leave out after", "after")


class StartSchema(Strict):
    via = fields.String(load_default="api", validate=validate.OneOf(VIA, error="must be one of {choices}"))
    to = fields.String(load_default="auto", validate=validate.Length(min=1, max=256))
    mode = fields.String(validate=validate.OneOf(MODES, error="must be one of {choices}"))
    reason = fields.String(validate=validate.Length(max=500))
    summary = fields.String(validate=validate.Length(max=2000))
    message = fields.String(validate=validate.Length(max=1000))
    variables = Scalars()
    refer = fields.Bool()
    final = fields.Bool()

    @validates_schema
    def _tool_arguments(self, data, **kwargs):
        if data.get("via") == "tool":
            extra = sorted(set(data) & {"message", "variables", "refer", "final"})
            if extra:
                raise ValidationError("the tool endpoint takes only to, mode, reason and summary "
                                      "(give call variables under caller.variables)", extra[0])


class Refused(fields.Field):
    """`true`, or a text the refusal's message must contain (any case)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True:
            return True
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
        raise ValidationError("must be true, or a text the refusal's message contains (e.g. \"nobody can take\")")


class ExpectSchema(Strict):
    outcome = fields.String(validate=validate.OneOf(OUTCOMES, error="must be one of {choices}"))
    path = PathField()
    refused = Refused()     # the service refuses to start the transfer (422, ok: false, or the agent told why)
    caller_heard = HeardList()
    heard = fields.Dict(keys=fields.String(), values=HeardList())
    max_hold_seconds = fields.Float(validate=validate.Range(min=0))
    caller_ends = fields.String(validate=validate.Length(min=1))

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("expect at least one of: " + ", ".join(self.fields))
        if "refused" in data:
            started = [key for key in ("outcome", "path") if key in data]
            if started:
                raise ValidationError(f"a refused transfer has no {' or '.join(started)}: give refused, or "
                                      f"{' and '.join(started)}, not both", "refused")


class EarlierTransferSchema(Strict):
    """A transfer played on the same call before the scenario's own (chained transfers)."""

    start = fields.Nested(StartSchema, load_default=lambda: {"via": "api", "to": "auto"})
    outcome = fields.String(validate=validate.OneOf(OUTCOMES, error="must be one of {choices}"))


class ScenarioSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String()
    clock = Clock()
    caller = fields.Nested(CallerSchema)
    recipients = fields.Dict(keys=fields.String(validate=validate.Length(min=1)), values=fields.Nested(PartySchema))
    before = fields.List(fields.Nested(EarlierTransferSchema))   # earlier transfers on the call, in order
    start = fields.Nested(StartSchema, load_default=lambda: {"via": "api", "to": "auto"})
    expect = fields.Nested(ExpectSchema, required=True)
    timeout = fields.Float(validate=validate.Range(min=1, max=3600))   # seconds to wait for the outcome


class ScenarioFileSchema(Strict):
    recipients = fields.String(validate=validate.Length(min=1))
    recipients_inline = fields.Dict()
    description = fields.String()
    clock = Clock()
    caller = fields.Nested(CallerSchema)
    timeout = fields.Float(validate=validate.Range(min=1, max=3600))
    scenarios = fields.List(fields.Nested(ScenarioSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _one_recipients(self, data, **kwargs):
        if ("recipients" in data) == ("recipients_inline" in data):
            raise ValidationError("give recipients (a path) or recipients_inline (a recipients document)",
                                  "recipients")


# --- error messages ------------------------------------------------------------------------------

def _without_dict_levels(path) -> tuple:
    """marshmallow's error path without a Dict field's extra level: `value` goes, `key` names the entry's name."""
    out = ()
    for part in path:
        if part == "value" and out and not isinstance(out[-1], int):
            continue
        if part == "key" and out and not isinstance(out[-1], int):
            out = out[:-1] + (f"{out[-1]} (the name)",)
        else:
            out += (part,)
    return out


def _schema_at(path) -> Schema | None:
    """The schema whose keys the field at `path` belongs to (for listing the known keys)."""
    schema: Schema = ScenarioFileSchema()
    parts, i = list(path[:-1]), 0
    while i < len(parts):
        part, i = parts[i], i + 1
        if isinstance(part, int):
            continue
        field = schema.fields.get(part)
        if isinstance(field, fields.List):
            field = field.inner
        if isinstance(field, fields.Dict):
            field, i = field.value_field, i + 1     # the next part is the dict's key
        if not isinstance(field, fields.Nested):
            return None
        schema = field.schema
    return schema


def scenario_label(raw, index: int) -> str:
    """`scenario "name"`, or `scenarios[2]` for one without a usable name."""
    items = raw.get("scenarios") if isinstance(raw, dict) else None
    item = items[index] if isinstance(items, list) and index < len(items) else None
    name = item.get("name") if isinstance(item, dict) else None
    return f'scenario "{name}"' if isinstance(name, str) and name.strip() else f"scenarios[{index}]"


def describe(path, message: str, raw) -> str:
    """One line: where (scenario, field path) and what is wrong."""
    path = _without_dict_levels(path)
    where = []
    rest = [p for p in path if p != "_schema"]
    if len(rest) >= 2 and rest[0] == "scenarios" and isinstance(rest[1], int):
        where.append(scenario_label(raw, rest[1]))
        rest = rest[2:]
    field = ""
    for part in rest:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    if field:
        where.append(field)
    if message == "Unknown field.":
        schema = _schema_at([p for p in path if p != "_schema"])
        known = f" (known keys: {', '.join(schema.fields)})" if schema is not None else ""
        message = "unknown key" + known
    elif message == "Missing data for required field.":
        message = "required"
    if message[1:2].islower():
        message = message[:1].lower() + message[1:]
    return ": ".join(where + [message.rstrip(".")])


def errors(messages, raw) -> list[str]:
    """Every marshmallow error as one line."""
    return [describe(path, message, raw) for path, message in flatten_messages(messages)]
