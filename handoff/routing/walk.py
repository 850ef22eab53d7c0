"""Walking the recipients file for one plan: recipients, groups, rotations and rules, in order, with
their hours, fallbacks and layered delivery settings (router.Router builds the steps and targets)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..targets import DeliverySettings, Step
from .loader import delivery_settings
from .model import LAST_RESORT, Group, Recipient, Rotation, Rule
from .errors import RoutingError
from .variables import Scope

if TYPE_CHECKING:
    from .router import Router


class PlanWalk:
    """Accumulates the steps of one plan while walking recipients, groups, rotations and rules."""

    def __init__(self, router: Router, scope: Scope, now: datetime, mode: str | None = None):
        self.router, self.cfg, self.scope, self.now, self.mode = router, router.config, scope, now, mode
        self.steps: list[Step] = []
        self.reasons: list[str] = []
        self.visited: set[str] = set()
        self.stack: list = []                # entities being expanded, outermost first
        self.reached: list[dict] = []        # for explain: recipients in order
        self.last_resort = False
        self.first_rule: str | None = None   # the first rule walked (analytics groups by it)
        self.rule_stack: list | None = None
        self.entry: list | None = None       # the stack at the first entity walked: whose delivery an
                                             # empty plan (everyone closed) follows, e.g. its last resort

    # -- settings -------------------------------------------------------------------------------
    def layers(self, stack) -> list[dict]:
        return [self.cfg.defaults] + [getattr(e, "delivery", {}) for e in reversed(stack)]

    def add(self, step: Step, recipient: Recipient) -> None:
        self.steps.append(step)

    def settings(self, stack) -> DeliverySettings:
        """The delivery of a step reached through `stack` (defaults < recipient/group < rule, and the
        request's mode), its texts bound; only the first step's unbound placeholders refuse the plan."""
        return self.router._bound(delivery_settings(*self.layers(stack)), stack, self.scope, self.mode,
                                  strict=not self.steps)

    def empty_settings(self) -> DeliverySettings:
        """The delivery of a plan with nobody to dial: the first recipient, group or rule walked (its
        `last_resort`, e.g. a callback offer), not only the defaults; nothing is dialed, so nothing unbound
        refuses it."""
        stack = self.entry or self.rule_stack or []
        return self.router._bound(delivery_settings(*self.layers(stack)), stack, self.scope, self.mode, strict=False)

    # -- walking --------------------------------------------------------------------------------
    def expand(self, name: str, via: str) -> None:
        if name == LAST_RESORT:
            self.last_resort = True
            self.reasons.append(f"{via}: the last resort (no further recipient)")
            return
        if name in self.visited:
            self.reasons.append(f"{via}: {name!r} is already in the plan, not added twice")
            return
        self.visited.add(name)
        entity = (self.cfg.recipients.get(name) or self.cfg.groups.get(name)
                  or self.cfg.rotations.get(name))
        self.stack.append(entity)
        if self.entry is None:
            self.entry = list(self.stack)
        try:
            if isinstance(entity, Recipient):
                self._recipient(entity, via)
            elif isinstance(entity, Group):
                self._group(entity, via)
            elif isinstance(entity, Rotation):
                self._rotation(entity, via)
            else:  # pragma: no cover - names are cross-checked at load
                raise RoutingError(f"{name!r} is not configured", field="to")
        finally:
            self.stack.pop()

    def fallbacks(self, names, owner: str) -> None:
        # a fallback is its own recipient: it does not inherit the delivery settings of the
        # recipient/group/rotation it stands in for (a rule's settings still apply)
        saved = self.stack
        self.stack = [e for e in saved if isinstance(e, Rule)]
        try:
            for f in names:
                self.expand(f, f"fallback of {owner}")
        finally:
            self.stack = saved

    def _recipient(self, r: Recipient, via: str) -> None:
        if r.hours:
            check = r.hours.check(self.now)
            if not check.open:
                self.reasons.append(f"{via}: recipient {r.name!r} is {check.reason}")
                self.reached.append({"name": r.name, "type": r.type, "skipped": check.reason})
                if r.fallback:
                    self.fallbacks(r.fallback, f"recipient {r.name!r}")
                return
        step = self.router._step(r, self.scope, self.settings(self.stack))
        self.add(step, r)
        self.reached.append(self.router._reached(r, step))
        label = (f"dynamic recipient {r.name!r} (address from its webhook at transfer time)" if step.dynamic
                 else f"recipient {r.name!r} ({r.type} {step.targets[0].address})")
        self.reasons.append(f"{via}: {label}" + (f", {step.retries} retr{'y' if step.retries == 1 else 'ies'}"
                                                  if step.retries else ""))
        self.fallbacks(r.fallback, f"recipient {r.name!r}")

    def _member_open(self, name: str, owner: str) -> Recipient | None:
        r = self.cfg.recipients[name]
        if r.hours:
            check = r.hours.check(self.now)
            if not check.open:
                self.reasons.append(f"{owner}: member {name!r} skipped, {check.reason}")
                self.reached.append({"name": name, "type": r.type, "skipped": check.reason})
                return None
        return r

    def _group(self, g: Group, via: str) -> None:
        owner = f"group {g.name!r}"
        if g.hours:
            check = g.hours.check(self.now)
            if not check.open:
                self.reasons.append(f"{via}: {owner} is {check.reason}")
                self.fallbacks(g.fallback, owner)
                return
        members = [m for m in (self._member_open(n, owner) for n in g.members) if m]
        members = [m for m in members if m.name not in self.visited]
        if not members:
            self.reasons.append(f"{via}: {owner} has no available member")
            self.fallbacks(g.fallback, owner)
            return
        if g.strategy == "parallel":
            steps = []
            for m in members:
                self.visited.add(m.name)
                self.stack.append(m)
                steps.append(self.router._step(m, self.scope, delivery_settings(*self.layers(self.stack))))
                self.stack.pop()
            # members ring at once, on one leg setting: the group's (and its rule's)
            own = self.settings(self.stack)
            step = Step(targets=tuple(t for s in steps for t in s.targets), parallel=True,
                        retries=own.retries, retry_interval=own.retry_interval, settings=own)
            self.add(step, members[0])
            for m, s in zip(members, steps):
                self.reached.append(self.router._reached(m, s))
            self.reasons.append(f"{via}: {owner} rings {', '.join(repr(m.name) for m in members)} at once")
        else:
            for m in members:
                self.visited.add(m.name)
                self.stack.append(m)
                step = self.router._step(m, self.scope, self.settings(self.stack))
                self.add(step, m)
                self.stack.pop()
                self.reached.append(self.router._reached(m, step))
            self.reasons.append(f"{via}: {owner} tries {', '.join(repr(m.name) for m in members)} in turn")
        self.fallbacks(g.fallback, owner)

    def _rotation(self, rot: Rotation, via: str) -> None:
        member, why = rot.on_call(self.now)
        self.reasons.append(f"{via}: {why}")
        self.expand(member, f"on call for {rot.name!r}")
        self.fallbacks(rot.fallback, f"rotation {rot.name!r}")

    def rule(self, rule: Rule, via: str) -> None:
        self.stack.append(rule)
        self.rule_stack = self.rule_stack or list(self.stack)    # a closed rule's own delivery (empty_settings)
        self.first_rule = self.first_rule or rule.name
        try:
            if rule.hours:
                check = rule.hours.check(self.now)
                self.reasons.append(f"rule {rule.name!r} hours: {check.reason}")
                if not check.open:
                    self._rule_fallback(rule)
                    return
            self.expand(rule.to, via)
            if rule.fallback:
                self.fallbacks(rule.fallback, f"rule {rule.name!r}")
        finally:
            self.stack.pop()

    def _rule_fallback(self, rule: Rule) -> None:
        if rule.fallback:
            self.fallbacks(rule.fallback, f"rule {rule.name!r}")
        elif self.cfg.fallback:
            self.fallbacks(self.cfg.fallback, "the file's fallback")
        else:
            self.expand(LAST_RESORT, f"rule {rule.name!r} has no fallback")
