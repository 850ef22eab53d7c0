"""The recipients file's marshmallow schemas (the format is documented in handoff/routing/README.md);
loader.py reads the file with them and builds the Config.
"""
from __future__ import annotations

import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..destinations import DestinationError, check_client, check_sip_uri, parse_e164, parse_number
from ..targets import LastResort
from .hours import parse_clock, parse_days
from .model import RECIPIENT_TYPES
from .schema_fields import Clock, Day, Days, EnvText, NameList, Secret, Text, _tz
from .variables import PLACEHOLDER_RE

NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_NAME = validate.Regexp(NAME_RE, error="must be letters, digits, '_', '-' or '.' (max 64), e.g. billing_desk")


# --- schemas -----------------------------------------------------------------------------------

class Strict(Schema):
    class Meta:
        unknown = RAISE


class WindowSchema(Strict):
    days = Days(required=True)
    open = Clock(required=True, data_key="from")
    close = Clock(required=True, data_key="to")


class ClosureSchema(Strict):
    date = Day()
    start = Day(data_key="from")
    end = Day(data_key="to")
    reason = Text()

    @validates_schema
    def _one_form(self, data, **kwargs):
        if "date" in data and ("start" in data or "end" in data):
            raise ValidationError("give either date or from/to, not both")
        if "date" not in data and "start" not in data:
            raise ValidationError("give date (one day) or from/to (a range of days)")
        if "start" in data and data.get("end") and data["end"] < data["start"]:
            raise ValidationError("'to' is before 'from'", "to")


class HoursSchema(Strict):
    timezone = Text(validate=_tz)
    weekly = fields.List(fields.Nested(WindowSchema), load_default=list)
    closed = fields.List(fields.Nested(ClosureSchema), load_default=list)


class HoursRef(fields.Field):
    """Either the name of an entry of top-level `hours:` or an inline hours block."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return value
        if not isinstance(value, dict):
            raise ValidationError("must be the name of an hours entry or an hours block")
        return HoursSchema().load(value)


class DeliverySchema(Strict):
    mode = Text(validate=validate.OneOf(["cold", "warm", "agent"]))
    message = Text()
    whisper = Text()
    summary_prompt = Text()
    hold_music_url = EnvText(validate=validate.URL(schemes={"http", "https"}, require_tld=False))
    hold_message = Text()
    hold_silence = fields.Boolean()
    timeout = fields.Integer(validate=validate.Range(1, 600))
    accept_timeout = fields.Integer(validate=validate.Range(1, 120))
    human_detection = fields.Boolean()
    detection_timeout = fields.Integer(validate=validate.Range(2, 120))
    # Ranges from Twilio's API description (Calls create, MachineDetection*).
    detection_speech_threshold = fields.Integer(validate=validate.Range(1000, 6000))
    detection_speech_end_threshold = fields.Integer(validate=validate.Range(500, 5000))
    detection_silence_timeout = fields.Integer(validate=validate.Range(2000, 10000))
    accept_key = Text(validate=validate.Regexp(r"^[0-9*#]$"))
    decline_key = Text(validate=validate.Regexp(r"^[0-9*#]$"))
    caller_id = Text()
    retries = fields.Integer(validate=validate.Range(0, 10))
    retry_interval = fields.Float(validate=validate.Range(0, 600))
    announcement = Text()
    last_resort = Text(validate=validate.OneOf([x.value for x in LastResort]))
    last_resort_message = Text()
    # Texts to the caller (handoff/texts.py): SMS templates, placeholders filled when sent.
    sms_before = Text(validate=validate.Length(min=1, max=1000))
    sms_success = Text(validate=validate.Length(min=1, max=1000))
    sms_failure = Text(validate=validate.Length(min=1, max=1000))
    # Hand-off card (handoff/cards.py): texted to a warm recipient once they accept.
    card = fields.Boolean()
    card_to = Text()
    # Callback offers (handoff/callbacks.py): used when last_resort is callback.
    callback_prompt = Text(validate=validate.Length(min=1, max=1000))
    callback_speech = fields.Boolean()
    callback_sms = Text(validate=validate.Length(min=1, max=1000))
    callback_message = Text(validate=validate.Length(min=1, max=1000))

    @validates_schema
    def _caller_id(self, data, **kwargs):
        cid = data.get("caller_id")
        if cid is not None and cid not in ("agent", "caller"):
            try:
                data["caller_id"] = parse_e164(cid)
            except DestinationError as exc:
                raise ValidationError(f"must be 'agent', 'caller' or an E.164 number: {exc.reason}",
                                      "caller_id") from None

    @validates_schema
    def _card_to(self, data, **kwargs):
        if data.get("card_to") is not None:
            try:
                data["card_to"] = parse_e164(data["card_to"])
            except DestinationError as exc:
                raise ValidationError(f"must be the E.164 mobile number to text: {exc.reason}", "card_to") from None


class WebhookSchema(Strict):
    url = EnvText(required=True, validate=validate.URL(schemes={"http", "https"}, require_tld=False))
    secret = Secret(required=True, validate=validate.Length(min=8, error="must be at least 8 characters"))
    timeout = fields.Float(load_default=3.0, validate=validate.Range(0.1, 30))
    headers = fields.Dict(keys=Text(), values=Secret(), load_default=dict)


class SipSchema(Strict):
    uri = Text(required=True)
    headers = fields.Dict(keys=Text(validate=validate.Regexp(r"^X-[A-Za-z0-9\-]+$", error="SIP headers must start with X-")),
                          values=Text(), load_default=dict)
    username = Secret()
    password = Secret()


class Common(Strict):
    name = Text(required=True, validate=_NAME)
    description = Text(load_default="")
    delivery = fields.Nested(DeliverySchema, load_default=dict)
    fallback = NameList(load_default=tuple)
    expose = fields.Boolean(load_default=True)


class RecipientSchema(Common):
    type = Text(required=True, validate=validate.OneOf(RECIPIENT_TYPES))
    languages = fields.List(Text(), load_default=list)
    hours = HoursRef()
    variables = fields.Dict(keys=Text(), values=Text(), load_default=dict)
    number = Text()
    extension = Text()
    allowed_prefixes = fields.List(Text(validate=validate.Regexp(r"^\+\d{1,15}$", error="must be '+' and digits")),
                                   load_default=list)
    sip = fields.Nested(SipSchema)
    identity = Text()
    url = EnvText()
    webhook = fields.Nested(WebhookSchema)

    ADDRESS = {"number": "number", "sip": "sip", "client": "identity", "agent": "url", "dynamic": "webhook"}

    @validates_schema
    def _address(self, data, **kwargs):
        kind = data.get("type")
        if kind not in self.ADDRESS:
            return
        own = self.ADDRESS[kind]
        if own not in data:
            raise ValidationError(f"a {kind} recipient needs '{own}'", own)
        for other in set(self.ADDRESS.values()) - {own}:
            if other in data:
                raise ValidationError(f"not allowed on a {kind} recipient (it uses '{own}')", other)
        if "extension" in data and kind != "number":
            raise ValidationError("only number recipients have an extension", "extension")
        if data.get("allowed_prefixes") and kind != "number":
            raise ValidationError("only number recipients have allowed_prefixes", "allowed_prefixes")
        try:
            _check_address(kind, data)
        except DestinationError as exc:
            raise ValidationError(exc.reason, own) from None


def _check_address(kind: str, data: dict) -> None:
    """Validate the static parts of an address (placeholders are checked at transfer time)."""
    def static(text: str) -> bool:
        return not PLACEHOLDER_RE.search(text)

    if kind == "number":
        if static(data["number"]):
            data["number"], extension = parse_number(data["number"])
            if extension is not None:
                # "+14155550140;ext=204" is the number plus its extension: dial it, never drop it.
                if data.get("extension") is not None:
                    raise ValidationError(f"the number already has extension {extension!r}; give it once",
                                          "extension")
                data["extension"] = extension
        elif not re.fullmatch(r"\+?[0-9]*(<[A-Za-z_][A-Za-z0-9_.\-]*>[0-9]*)+", data["number"]):
            raise DestinationError(data["number"], "a number template is '+', digits and <placeholders>")
        ext = data.get("extension")
        if ext is not None and static(ext) and not re.fullmatch(r"[0-9*#wW]{1,32}", ext):
            raise ValidationError("an extension is digits, '*', '#' or 'w' (pause)", "extension")
    elif kind == "sip":
        uri = data["sip"]["uri"]
        if "?" in uri:
            raise DestinationError(uri, "put X- headers under 'headers', not in the URI")
        check_sip_uri(PLACEHOLDER_RE.sub("x", uri))
        host = uri.split("@", 1)[1] if "@" in uri else ""
        if PLACEHOLDER_RE.search(host):
            raise DestinationError(uri, "placeholders are not allowed in the SIP host")
    elif kind == "client":
        if static(data["identity"]):
            data["identity"] = check_client(data["identity"])
    elif kind == "agent":
        url = data["url"]
        if not re.match(r"^(wss?|https?)://[^\s/]+", url):
            raise DestinationError(url, "an agent connection is a ws(s):// or http(s):// URL")


class GroupSchema(Common):
    strategy = Text(load_default="sequential", validate=validate.OneOf(["parallel", "sequential"]))
    members = NameList(required=True)
    hours = HoursRef()


class OverrideSchema(Strict):
    date = Day()
    start = Day(data_key="from")
    end = Day(data_key="to")
    member = Text(required=True)
    reason = Text()

    @validates_schema
    def _one_form(self, data, **kwargs):
        if ("date" in data) == ("start" in data):
            raise ValidationError("give either date or from/to")


class RotationSchema(Common):
    timezone = Text(required=True, validate=_tz)
    start = Day(required=True)
    handover = Text(load_default="09:00")
    shift_days = fields.Integer(load_default=7, validate=validate.Range(1, 366))
    members = NameList(required=True)
    overrides = fields.List(fields.Nested(OverrideSchema), load_default=list)

    @validates_schema
    def _handover(self, data, **kwargs):
        raw = data.get("handover", "09:00")
        parts = str(raw).split()
        if isinstance(raw, int):
            parts = [raw]
        try:
            if len(parts) == 2:
                day = parse_days(parts[0])
                if len(day) != 1:
                    raise ValueError("one weekday")
                if "start" in data and data["start"].weekday() not in day:
                    raise ValueError(f"start {data['start']} is not a {parts[0]} (the hand-over day)")
                data["handover"] = parse_clock(parts[1])
            elif len(parts) == 1:
                data["handover"] = parse_clock(parts[0])
            else:
                raise ValueError("write e.g. 'mon 09:00' or '09:00'")
        except ValueError as exc:
            raise ValidationError(str(exc), "handover") from None


class ConditionField(fields.Field):
    OPS = ("equals", "not_equals", "in", "not_in", "matches", "present")

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list):
            value = {"in": value}
        if not isinstance(value, dict):
            value = {"equals": value}
        if len(value) != 1:
            raise ValidationError(f"one test per variable: one of {', '.join(self.OPS)}")
        (op, arg), = value.items()
        if op not in self.OPS:
            raise ValidationError(f"unknown test {op!r}: use one of {', '.join(self.OPS)}")
        text = lambda v: ("true" if v else "false") if isinstance(v, bool) else str(v)
        if op in ("in", "not_in"):
            if not isinstance(arg, list) or not arg:
                raise ValidationError(f"'{op}' takes a non-empty list")
            return op, tuple(text(v) for v in arg)
        if op == "matches":
            try:
                return op, re.compile(str(arg))
            except re.error as exc:
                raise ValidationError(f"bad regular expression: {exc}") from None
        if op == "present":
            if not isinstance(arg, bool):
                raise ValidationError("'present' takes true or false")
            return op, arg
        return op, text(arg)


class RuleSchema(Common):
    to = Text(required=True)
    when = fields.Dict(keys=Text(), values=ConditionField(), load_default=dict)
    during = HoursRef()
    hours = HoursRef()


class ToolSchema(Strict):
    name = Text(load_default="transfer_call", validate=validate.Regexp(r"^[A-Za-z0-9_\-]{1,64}$"))
    description = Text()


class FileSchema(Strict):
    version = fields.Integer(validate=validate.Equal(1))
    timezone = Text(validate=_tz)
    variables = fields.Dict(keys=Text(), values=Text(), load_default=dict)
    defaults = fields.Nested(DeliverySchema, load_default=dict)
    hours = fields.Dict(keys=Text(validate=_NAME), values=fields.Nested(HoursSchema), load_default=dict)
    recipients = fields.List(fields.Nested(RecipientSchema), required=True,
                             validate=validate.Length(min=1, error="list at least one recipient"))
    groups = fields.List(fields.Nested(GroupSchema), load_default=list)
    rotations = fields.List(fields.Nested(RotationSchema), load_default=list)
    rules = fields.List(fields.Nested(RuleSchema), load_default=list)
    fallback = NameList(load_default=tuple)
    tool = fields.Nested(ToolSchema, load_default=dict)


# --- errors ------------------------------------------------------------------------------------
