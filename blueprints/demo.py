"""DEMO ONLY: a stand-in on-call tool for `make run` (registered only when HANDOFF_DEMO=1).

`examples/recipients.yaml`'s dynamic recipient `oncall_webhook` points at `POST /demo/oncall`.
This endpoint plays the part of a real on-call tool (PagerDuty, Opsgenie, a CRM...): it checks
the `X-Handoff-Signature` HMAC the way a real webhook should (`handoff.routing.dynamic.verify`,
with the secret of the dynamic recipient named in the body), refuses stale timestamps (the real
`timestamp`), and answers `{"destination": "+1...", "name": ..., "demo": true}` with the number of
whoever the file's first rotation has on call at the time asked about (the body's `now`: the
transfer's time, which a set clock moves in local mode), or a fixed demo number when there is no
such number.

Never enable it in production: it exists so the demo has something to call.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify, request

from handoff.clock import parse_instant
from handoff.routing.dynamic import SIGNATURE_HEADER, verify

bp = Blueprint("demo", __name__, url_prefix="/demo")

DEMO_NUMBER = "+14155550123"      # answered when the rotation has no usable number
MAX_SKEW = 300                    # seconds: older (or future) signed requests are replays


def _refuse(status: int, message: str):
    response = jsonify({"error": message, "demo": True})
    response.status_code = status
    return response


def _on_call(router, now: datetime) -> tuple[str, str | None]:
    """(destination, name): the number of the member on call at `now` in the file's first rotation."""
    for rotation in router.config.rotations.values():
        member, _why = rotation.on_call(now)
        recipient = router.config.recipients.get(member)
        number = getattr(recipient, "number", None) if recipient is not None else None
        if recipient is not None and recipient.type == "number" and number and "<" not in number:
            if router.allow_list.allows(number):
                return number, member
            return member, member       # a configured recipient's name is an answer too
    return DEMO_NUMBER, None


@bp.post("/oncall")
def oncall():
    """DEMO: who is on call at the time asked about, for the dynamic recipient that asks (HMAC-signed)."""
    holder = current_app.extensions["handoff"].routing
    if holder is None:
        return _refuse(404, "demo on-call: no recipients file is configured")
    router = holder.current
    raw = request.get_data(cache=True)
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return _refuse(400, "demo on-call: the body must be a JSON object")
    recipient = router.config.recipients.get(str(payload.get("recipient", "")))
    if recipient is None or recipient.type != "dynamic":
        return _refuse(401, "demo on-call: 'recipient' is not a dynamic recipient of this file")
    if not verify(recipient.webhook.secret, raw, request.headers.get(SIGNATURE_HEADER)):
        return _refuse(401, f"demo on-call: bad or missing {SIGNATURE_HEADER}")
    timestamp = payload.get("timestamp")
    if not isinstance(timestamp, (int, float)) or abs(time.time() - timestamp) > MAX_SKEW:
        return _refuse(401, "demo on-call: stale or missing timestamp")
    # The time asked about, not this process's clock: a transfer at a set time asks who is on call then.
    asked = payload.get("now")
    try:
        now = datetime.now(timezone.utc) if asked is None else parse_instant(asked if isinstance(asked, str) else "")
    except ValueError as exc:
        return _refuse(400, f"demo on-call: 'now': {exc}")
    destination, name = _on_call(router, now)
    current_app.logger.info("demo on-call: %s -> %s", payload.get("call_sid"), destination)
    return jsonify({"destination": destination, "name": name or "Demo on-call engineer", "at": now.isoformat(),
                    "demo": True})
