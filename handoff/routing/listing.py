"""GET /api/recipients: everything configured, secrets masked."""
from __future__ import annotations

from datetime import datetime, timezone

MASK = "***"


def _delivery(d: dict) -> dict:
    return dict(d)


def list_recipients(router, now: datetime | None = None) -> list[dict]:
    cfg = router.config
    now = now or datetime.now(timezone.utc)
    out: list[dict] = []
    for r in cfg.recipients.values():
        item = {"name": r.name, "type": r.type, "description": r.description, "languages": list(r.languages),
                "hours": r.hours.describe() if r.hours else None, "delivery": _delivery(r.delivery),
                "fallback": list(r.fallback), "variables": dict(r.variables), "expose": r.expose}
        if r.type == "number":
            item["number"] = r.number
            if r.extension:
                item["extension"] = r.extension
            if r.allowed_prefixes:
                item["allowed_prefixes"] = list(r.allowed_prefixes)
        elif r.type == "sip":
            item["sip"] = {"uri": r.sip_uri, "headers": dict(r.sip_headers),
                           "username": MASK if r.sip_username else None,
                           "password": MASK if r.sip_password else None}
        elif r.type == "client":
            item["identity"] = r.identity
        elif r.type == "agent":
            item["url"] = r.agent_url
        elif r.type == "dynamic":
            item["webhook"] = {"url": r.webhook.url, "secret": MASK, "timeout": r.webhook.timeout,
                               "headers": {k: MASK for k, _ in r.webhook.headers}}
        if r.hours:
            item["open_now"] = r.hours.check(now).open
        out.append(item)
    for g in cfg.groups.values():
        out.append({"name": g.name, "type": "group", "strategy": g.strategy, "members": list(g.members),
                    "description": g.description, "hours": g.hours.describe() if g.hours else None,
                    "delivery": _delivery(g.delivery), "fallback": list(g.fallback), "expose": g.expose})
    for rot in cfg.rotations.values():
        member, _ = rot.on_call(now)
        out.append({"name": rot.name, "type": "rotation", "members": list(rot.members),
                    "description": rot.description, "timezone": rot.timezone, "start": rot.start.isoformat(),
                    "handover": rot.handover.strftime("%H:%M"), "shift_days": rot.shift_days,
                    "overrides": [{"from": o.first.isoformat(), "to": o.last.isoformat(), "member": o.member,
                                   "reason": o.reason} for o in rot.overrides],
                    "on_call": member, "delivery": _delivery(rot.delivery), "fallback": list(rot.fallback),
                    "expose": rot.expose})
    return out
