"""SMS about a transfer (the caller's notices, hand-off cards, callback confirmations): sent once, recorded.

`Texts.send` is the `send_text` job's body (workers/jobs.py); `Texts.status` is the delivery status
callback's (blueprints/texts.py). Everything here is bookkeeping on the transfer's event stream
(`text-sent`, `text-failed`, `text-delivered`, `text-undelivered`): a text never changes a transfer's
status or outcome, and works on a finished (even archived) transfer.

At most once per (transfer, purpose): the job claims the purpose in Redis (HSETNX, lua/text.lua)
before it asks Twilio, so a duplicate enqueue or a re-run records and sends nothing. A worker that
dies between the claim and Twilio's answer leaves the purpose claimed and no event: that text is
never sent (a missing notice is better than a caller texted twice; RQ does not re-run it anyway).
"""
from __future__ import annotations

import logging
from typing import Mapping

from .destinations import DestinationError, parse_e164
from .gateway import GatewayError
from .placeholders import fill, runtime_values
from .record import Transfer
from .state import Outcome
from .transfer.context import Context

log = logging.getLogger("handoff.texts")

# The caller's notices, by purpose: the DeliverySettings field holding each one's template.
NOTICES = {"before": "sms_before", "success": "sms_success", "failure": "sms_failure"}
# Every text whose template is a delivery setting: the notices, and those another feature queues
# (the callback offer's confirmation, handoff/callbacks.py).
TEMPLATES = {**NOTICES, "callback": "callback_sms"}
# The letters of the transfer's `texts` field, copied into its 'outcome' event by lua/common.lua
# `decide`, so the dispatcher queues an outcome notice only for transfers that have one.
LETTERS = {"before": "b", "success": "s", "failure": "f"}
MAX_BODY = 1600                # Twilio refuses a longer body (21617)
# Delivery statuses worth an event (Twilio's Message status values); the others are on the way.
FINAL_STATUSES = {"delivered": "text-delivered", "undelivered": "text-undelivered", "failed": "text-undelivered"}


def texts_flag(settings) -> str:
    """The `texts` field of a new transfer: a letter per caller's notice its settings hold ('' = none)."""
    return "".join(LETTERS[p] for p, name in NOTICES.items() if getattr(settings, name, None))


def notice_for(outcome: str) -> str | None:
    """The caller's notice an outcome calls for: success, failure, or none (cancelled: through the API or
    because the caller hung up; a text right after hanging up tells them nothing they want)."""
    if outcome == Outcome.SUCCESS.value:
        return "success"
    if not outcome or outcome == Outcome.CANCELLED.value:
        return None
    return "failure"


def outcome_handler(jobs):
    """The dispatcher's handler (handoff/dispatch.py): an 'outcome' event whose transfer has the notice it
    calls for (`texts` letters copied by `decide`) queues `send_text` in the round's MULTI."""

    def handle(events, round_) -> None:
        for event in events:
            if not event.is_outcome:
                continue
            purpose = notice_for(str(event.detail.get("outcome") or ""))
            if purpose and LETTERS[purpose] in str(event.detail.get("texts") or ""):
                jobs.enqueue("send_text", event.transfer_id, purpose, None, None, batch=round_.batch)

    handle.__qualname__ = "caller_texts"
    return handle


def _phone(value: str | None) -> str | None:
    try:
        return parse_e164(value or "")
    except DestinationError:
        return None


class Texts:
    """Sends a transfer's SMS (in a worker) and records their delivery (in a webhook)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.store = ctx.store

    # ------------------------------------------------------------------ the job
    def send(self, transfer_id: str, purpose: str, to: str | None = None, body: str | None = None) -> str | None:
        """Send the transfer's `purpose` text once; returns its message SID (None: not sent, or not now).

        `to` defaults to the caller, `body` to the transfer's own notice for `purpose` (filled here)."""
        t = self.store.get_transfer(transfer_id)
        if t is None:
            return None        # a request refused after its job was queued in the same batch
        call = self.store.get_call(t.call_sid) or {}
        if body is None:
            body = self._notice(t, call, purpose)
        if not body:
            return None
        to = to or call.get("from") or ""
        if not self.store.record_once(t.id, t.call_sid, f"claim:{purpose}", "1"):
            log.info("text %s of %s already claimed: not sent again", purpose, t.id)
            return None
        number = _phone(to)
        sender = _phone(call.get("to")) or _phone(self.ctx.caller_id)
        if number is None:
            return self._failed(t, purpose, to, None, f"not a phone number a text can reach: {to or '(none)'}")
        if sender is None:
            return self._failed(t, purpose, to, None, "no number to send from: the call did not come in on a "
                                "phone number and TRANSFER_CALLER_ID is not set")
        callback = self.ctx.urls.text_status(t.id, purpose, t.call_sid)
        try:
            sid = self.ctx.gateway.send_message(to=number, from_=sender, body=body[:MAX_BODY],
                                                status_callback=callback)
        except GatewayError as exc:
            return self._failed(t, purpose, number, exc.code, str(exc))
        self.store.record_once(t.id, t.call_sid, f"sent:{purpose}", sid,
                               {"event": "text-sent", "purpose": purpose, "to": number, "sid": sid})
        return sid

    def _failed(self, t: Transfer, purpose: str, to: str, code: int | None, error: str) -> None:
        log.warning("text %s of %s not sent: %s %s", purpose, t.id, code or "", error)
        self.store.record_once(t.id, t.call_sid, f"sent:{purpose}", "failed",
                               {"event": "text-failed", "purpose": purpose, "to": to, "code": code, "error": error})
        return None

    def _notice(self, t: Transfer, call: Mapping[str, str], purpose: str) -> str | None:
        """The caller's notice for `purpose`, its placeholders filled from the transfer and the call."""
        template = getattr(t.settings, TEMPLATES.get(purpose, ""), None)
        if not template:
            return None
        # The recipient: the first one for 'before', the one reached (or tried last) after the outcome.
        attempt = t.attempts[0] if purpose == "before" and t.attempts else t.current if t.attempts else None
        recipient = next((x.recipient for x in attempt.targets if x.recipient), None) if attempt else None
        values = runtime_values(call=call, call_sid=t.call_sid, reason=t.reason, summary=t.summary,
                                variables=t.variables, call_variables=self.store.get_call_variables(t.call_sid),
                                recipient=recipient, transcript=t.context.get("transcript"))
        return fill(template, values).strip()

    # ------------------------------------------------------------------ the status callback
    def status(self, transfer_id: str, call_sid: str, purpose: str, *, sid: str, status: str,
               error_code: str | None) -> bool:
        """A message's delivery status: 'text-delivered' / 'text-undelivered' once per SID and status
        (one Redis round trip; the statuses on the way, queued/sent..., record nothing)."""
        event_type = FINAL_STATUSES.get(status)
        if event_type is None:
            return False
        event = {"event": event_type, "purpose": purpose, "sid": sid, "status": status}
        if event_type == "text-undelivered":
            event["code"] = int(error_code) if (error_code or "").isdigit() else error_code
        return self.store.record_once(transfer_id, call_sid, f"{sid}:{status}", "1", event)
