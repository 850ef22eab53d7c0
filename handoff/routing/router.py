"""The routing facade the service calls: plan, explain, recipients, tools, resolve_dynamic."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from datetime import datetime, timezone

from ..destinations import (AllowList, DestinationError, check_client, check_sip_uri, parse_e164,
                            parse_raw_target, send_digits)
from ..targets import DeliverySettings, Plan, Step, Target, TargetKind
from .errors import RoutingError
from .hours import check_instant
from .model import LAST_RESORT, Config, Recipient
from .rules import evaluate_rule
from .loader import load_config
from .variables import Scope, placeholders
from .walk import PlanWalk

MODES = ("cold", "warm", "agent")
MASK = "***"


def _now(now: datetime | None) -> datetime:
    """`now` as an aware datetime (naive = UTC); RoutingError(field="at") when out of range."""
    if now is None:
        return datetime.now(timezone.utc)
    try:
        return check_instant(now)
    except ValueError as exc:
        raise RoutingError(str(exc), field="at") from None


class Router:
    """Routing over one loaded recipients file. Immutable; safe to share between threads."""

    def __init__(self, config: Config, allow_list: AllowList | None = None):
        self.config = config
        self.allow_list = allow_list or AllowList()
        self._rules = {r.name: r for r in config.rules}

    @property
    def path(self) -> str:
        return self.config.path

    # -- names ----------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every name `to` may be: recipients, groups, rotations and rules."""
        c = self.config
        return [*c.recipients, *c.groups, *c.rotations, *self._rules]

    def describe(self, name: str) -> str:
        c = self.config
        entity = c.recipients.get(name) or c.groups.get(name) or c.rotations.get(name) or self._rules.get(name)
        return getattr(entity, "description", "") or ""

    # -- plan -----------------------------------------------------------------------------------
    def plan(self, to: str, *, variables: Mapping[str, str], call_variables: Mapping[str, str] = {},
             now: datetime | None = None, mode: str | None = None) -> Plan:
        """The ordered plan for a transfer to `to`; raises RoutingError (field + message)."""
        plan, _ = self._plan(to, variables, call_variables, now, mode)
        return plan

    def _plan(self, to, variables, call_variables, now, mode, out: dict | None = None):
        if mode is not None and mode not in MODES:
            raise RoutingError(f"mode must be one of {', '.join(MODES)}, not {mode!r}", field="mode")
        if not isinstance(to, str) or not to.strip():
            raise RoutingError("name a recipient, a group, a rule, 'auto' or an allowed phone number", field="to")
        to = to.strip()
        now = _now(now)
        scope = Scope(variables, call_variables, self.config.variables)
        build = PlanWalk(self, scope, now, mode)
        traces: list[dict] = []
        if out is not None:
            out.update(build=build, traces=traces, now=now, scope=scope)
        if to == "auto":
            chosen = chosen_trace = None
            for rule in self.config.rules:
                trace = evaluate_rule(rule, scope, now)
                trace["selected"] = chosen is None and trace["matched"]
                traces.append(trace)
                if trace["selected"]:
                    chosen, chosen_trace = rule, trace
            if chosen is not None:
                build.reasons.append(f"rule {chosen.name!r} matched: {chosen_trace['why']}")
                build.rule(chosen, f"rule {chosen.name!r}")
            else:
                build.reasons.append("no rule matched" if self.config.rules else "no rules are configured")
                if self.config.fallback:
                    build.fallbacks(self.config.fallback, "the file's fallback")
                else:
                    build.expand(LAST_RESORT, "no fallback configured")
        elif to in self._rules:
            rule = self._rules[to]
            build.reasons.append(f"rule {rule.name!r} named directly (its conditions are not tested)")
            build.rule(rule, f"rule {rule.name!r}")
        elif to in self.config.recipients or to in self.config.groups or to in self.config.rotations:
            build.expand(to, "requested")
        else:
            try:
                target = parse_raw_target(to, self.allow_list)
            except DestinationError as exc:
                if to.startswith(("+", "sip:", "sips:", "client:")) or to.replace(" ", "").isdigit():
                    raise RoutingError(f"refused to transfer to {to!r}: {exc.reason}", field="to") from None
                known = ", ".join(self.names()[:20])
                raise RoutingError(f"{to!r} is not a configured recipient, group or rule "
                                   f"(known: {known}) and not an allowed phone number", field="to") from None
            build.add(Step(targets=(target,), settings=build.settings([])), None)
            reached = {"name": None, "type": "number", "address": target.address}
            if target.send_digits:
                reached["send_digits"] = target.send_digits
            build.reached.append(reached)
            build.reasons.append(f"requested: raw number {target.address}"
                                 + (f" then extension digits {target.send_digits}" if target.send_digits else "")
                                 + " (allowed by TRANSFER_ALLOWED_PREFIXES)")
        settings = build.steps[0].settings if build.steps else build.empty_settings()
        return Plan(steps=tuple(build.steps), settings=settings, reasons=tuple(build.reasons), rule=build.first_rule), (build, traces, now, scope)

    @staticmethod
    def _bound(settings: DeliverySettings, stack, scope: Scope, mode: str | None, *,
               strict: bool = True) -> DeliverySettings:
        """`settings` with the spoken texts' variables bound for the innermost recipient of `stack`."""
        lead = next((e for e in reversed(stack) if isinstance(e, Recipient)), None)
        fixed = lead.variables if lead else None
        who = f"recipient {lead.name!r}" if lead else "the file's defaults"

        def bind(text: str | None, what: str) -> str | None:
            # not strict: a later step's unbound name stays as written; the transfer fills what it knows then
            return scope.bind(text, kind="text", what=f"{what} of {who}", recipient_fixed=fixed, strict=strict)

        settings = dataclasses.replace(settings, whisper=bind(settings.whisper, "the whisper"),
                                       summary_prompt=bind(settings.summary_prompt, "the summary prompt"),
                                       message=bind(settings.message, "the message"))
        # The caller's texts: what routing knows now; the rest is filled when each is sent (handoff/texts.py).
        settings = dataclasses.replace(settings, **{
            name: scope.bind(getattr(settings, name), kind="text", what=f"{name} of {who}", recipient_fixed=fixed,
                             strict=False)
            for name in ("sms_before", "sms_success", "sms_failure", "callback_sms")})
        if mode:
            settings = dataclasses.replace(settings, mode=mode)
        return settings

    # -- targets --------------------------------------------------------------------------------
    def _step(self, r: Recipient, scope: Scope, s: DeliverySettings) -> Step:
        if r.type == "dynamic":
            return Step(targets=(), retries=s.retries, retry_interval=s.retry_interval, dynamic=r.name, settings=s)
        return Step(targets=(self.target_for(r, scope),), retries=s.retries, retry_interval=s.retry_interval,
                    settings=s)

    def target_for(self, r: Recipient, scope: Scope) -> Target:
        """The concrete Target of a static recipient, placeholders bound and checked."""
        fixed = r.variables
        what = f"recipient {r.name!r}"
        if r.type == "number":
            raw = scope.bind(r.number, kind="number", what=f"{what} number", recipient_fixed=fixed)
            names = placeholders(r.number)
            field = f"variables.{names[0]}" if names else "to"
            try:
                e164 = parse_e164(raw)
            except DestinationError as exc:
                raise RoutingError(f"{what}: number {raw!r} after filling placeholders is {exc.reason}",
                                   field=field) from None
            if names and not (self.allow_list.allows(e164) or any(e164.startswith(p) for p in r.allowed_prefixes)):
                raise RoutingError(f"{what}: refused {e164}, built from variables, because it is not in "
                                   f"TRANSFER_ALLOWED_PREFIXES or the recipient's allowed_prefixes", field=field)
            digits = None
            if r.extension:
                ext = scope.bind(r.extension, kind="extension", what=f"{what} extension", recipient_fixed=fixed)
                digits = send_digits(ext)
            return Target(kind=TargetKind.NUMBER, address=e164, recipient=r.name, send_digits=digits)
        if r.type == "sip":
            uri = scope.bind(r.sip_uri, kind="sip_uri", what=f"{what} SIP URI", recipient_fixed=fixed)
            try:
                check_sip_uri(uri)
            except DestinationError as exc:
                raise RoutingError(f"{what}: {exc.reason}", field="to") from None
            headers = tuple((k, scope.bind(v, kind="sip_header", what=f"{what} SIP header {k}",
                                           recipient_fixed=fixed)) for k, v in r.sip_headers)
            return Target(kind=TargetKind.SIP, address=uri, recipient=r.name, sip_headers=headers,
                          sip_username=r.sip_username, sip_password=r.sip_password)
        if r.type == "client":
            ident = scope.bind(r.identity, kind="client", what=f"{what} client identity", recipient_fixed=fixed)
            try:
                return Target(kind=TargetKind.CLIENT, address=check_client(ident), recipient=r.name)
            except DestinationError as exc:
                raise RoutingError(f"{what}: {exc.reason}", field="to") from None
        if r.type == "agent":
            return Target(kind=TargetKind.AGENT, address=r.agent_url, recipient=r.name)
        raise RoutingError(f"{what} is dynamic: resolve it with resolve_dynamic", field="to")

    @staticmethod
    def _reached(r: Recipient, step: Step) -> dict:
        if step.dynamic:
            return {"name": r.name, "type": "dynamic", "address": None}
        t = next((t for t in step.targets if t.recipient == r.name), step.targets[0])
        out = {"name": r.name, "type": r.type, "address": t.address}
        if t.send_digits:
            out["send_digits"] = t.send_digits
        return out

    # -- dynamic --------------------------------------------------------------------------------
    def resolve_dynamic(self, name: str, *, context: Mapping, timeout: float | None = None,
                        now: datetime | None = None) -> Target:
        """Ask a dynamic recipient's webhook where the call goes, telling it the transfer's time (`now`)."""
        from .dynamic import resolve
        return resolve(self, name, context=context, timeout=timeout, now=now)

    # -- explain --------------------------------------------------------------------------------
    def explain(self, *, variables: Mapping[str, str], call_variables: Mapping[str, str] = {},
                now: datetime | None = None, to: str = "auto") -> dict:
        from .explain import explain
        return explain(self, variables=variables, call_variables=call_variables, now=now, to=to)

    # -- listing --------------------------------------------------------------------------------
    def recipients(self, now: datetime | None = None) -> list[dict]:
        """Everything configured, secrets masked; `open_now` and `on_call` at `now` (default: real time)."""
        from .listing import list_recipients
        return list_recipients(self, now)

    # -- tools ----------------------------------------------------------------------------------
    def tools(self, format: str = "openai", *, base_url: str | None = None,
              static_parameters: Mapping[str, str] | None = None, auth: str = "placeholder",
              token: str | None = None):
        from .tools import render
        return render(self, format, base_url=base_url, static_parameters=static_parameters, auth=auth,
                      token=token)


def load_router(path: str | os.PathLike, allow_list: AllowList | None = None) -> Router:
    """Load and validate the recipients file; raises RoutingError naming file, entry and field."""
    return Router(load_config(path), allow_list)
