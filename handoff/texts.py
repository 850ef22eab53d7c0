"""SMS about a transfer (the caller's notices, hand-off cards, callback confirmations): sent once, recorded.

`Texts.send` is the `send_text` job's body (workers/jobs.py); `Texts.status` is the delivery status
callback's (blueprints/texts.py). Everything here is bookkeeping on the transfer's event stream
(`text-sent`, `text-failed`, `text-delivered`, `text-undelivered`): a text never changes a transfer's
status or outcome, and works on a finished transfer until it is archived (handoff/archive.py waits for
a send in flight; after that nothing is sent or recorded: the texts hash went with the hash).

At most once per (transfer, purpose): the job claims the purpose in Redis (HSETNX, lua/text.lua)
before it asks Twilio, so a duplicate enqueue or a re-run records and sends nothing. A worker that
dies between the claim and Twilio's answer leaves the purpose claimed and no event: that text is
never sent (a missing notice is better than a caller texted twice; RQ does not re-run it anyway).
A send Twilio cannot have taken (429s or no connection past the gateway's retry budget) gives the
claim back and records `text-failed` with `transient: true`: nothing re-sends it by itself, but a
send_text job enqueued again for that purpose (before the archive) sends it. A read timeout or a 5xx
may follow a message Twilio accepted: recorded as `text-failed` too, with the claim kept.

A callback confirmation goes only to a transfer whose request was recorded (its `callback_id`), and
the agent tool's text (`sms` of /api/tools/transfer_call) is sent as the LLM wrote it, never filled:
a caller who steers the LLM must not get a variable texted to them.
"""
from __future__ import annotations

import json
import logging
import time
from typing import Mapping

from .destinations import DestinationError, parse_e164
from .gateway import GatewayError
from .keys import decode
from .placeholders import PLACEHOLDER_RE, fill, runtime_values
from .record import Transfer
from .state import Outcome
from .store import utc_now_iso
from .text_claims import CLAIM, SENT
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
# The transfer's context key naming the texts sent literally (the agent tool's `sms`: blueprints/api.py).
LITERAL = "sms_literal"


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
        if purpose == "callback" and not t.fields.get("callback_id"):
            # Queued with the offer's answer before its script decided: no request recorded, no confirmation.
            log.info("callback text of %s not sent: no callback request was recorded", t.id)
            return None
        call = self.store.get_call(t.call_sid) or {}
        templated = body is None and purpose not in (t.context.get(LITERAL) or ())
        if body is None:
            body = self._notice(t, call, purpose)
        if not body:
            return None
        # A name nothing bound stays as written: never text "<case_id>" to a caller (recorded instead).
        unbound = sorted(set(PLACEHOLDER_RE.findall(body))) if templated else []
        to = to or call.get("from") or ""
        claimed = self._record(t, CLAIM + purpose, f"{time.time():.3f}")
        if claimed != "recorded":
            log.info("text %s of %s not sent: %s", purpose, t.id,
                     "already claimed" if claimed == "duplicate" else f"the transfer is {claimed}")
            return None
        number = _phone(to)
        sender = _phone(call.get("to")) or _phone(self.ctx.caller_id)
        if number is None:
            return self._failed(t, purpose, to, None, f"not a phone number a text can reach: {to or '(none)'}")
        if sender is None:
            return self._failed(t, purpose, to, None, "no number to send from: the call did not come in on a "
                                "phone number and TRANSFER_CALLER_ID is not set")
        if unbound:
            return self._failed(t, purpose, number, None, "not sent: placeholder " + ", ".join(
                f"<{name}>" for name in unbound) + " is not bound (give it in the request's or the call's variables)")
        callback = self.ctx.urls.text_status(t.id, purpose, t.call_sid)
        try:
            sid = self.ctx.gateway.send_message(to=number, from_=sender, body=body[:MAX_BODY],
                                                status_callback=callback)
        except GatewayError as exc:
            return self._failed(t, purpose, number, exc.code, str(exc), transient=exc.transient)
        self._record(t, SENT + purpose, sid, {"event": "text-sent", "purpose": purpose, "to": number, "sid": sid})
        return sid

    def _failed(self, t: Transfer, purpose: str, to: str, code: int | None, error: str, *,
                transient: bool = False) -> None:
        log.warning("text %s of %s not sent%s: %s %s", purpose, t.id, " (may be tried again)" if transient else "",
                    code or "", error)
        event = {"event": "text-failed", "purpose": purpose, "to": to, "code": code, "error": error}
        if transient:
            # Twilio never took it: the claim is given back (so a send_text enqueued again sends it) and the
            # failure is recorded under its own field, leaving `sent:` free for that later send.
            self._record(t, f"failed:{purpose}:{time.time():.6f}", "transient",
                         {**event, "transient": True}, release=CLAIM + purpose)
        else:
            self._record(t, SENT + purpose, "failed", event)
        return None

    def _record(self, t: Transfer, field: str, value: str, event: Mapping | None = None, *,
                release: str = "") -> str:
        """lua/text.lua: 'recorded' | 'duplicate' | 'archived' | 'missing' (one round trip)."""
        return self._run(t.id, t.call_sid, field, value, event, release)

    def _run(self, transfer_id: str, call_sid: str, field: str, value: str, event: Mapping | None,
             release: str = "") -> str:
        k = self.store.keys
        body = json.dumps({"at": utc_now_iso(), **event}, separators=(",", ":")) if event else ""
        return self.store.run("text", [k.texts(transfer_id), k.events(transfer_id), k.event_feed(),
                                       k.transfer(transfer_id), k.archive(transfer_id)],
                              [field, value, transfer_id, call_sid, body, self.store.feed_cap, self.store.ttl,
                               release], decode)

    def _notice(self, t: Transfer, call: Mapping[str, str], purpose: str) -> str | None:
        """The caller's notice for `purpose`, its placeholders filled from the transfer and the call."""
        template = getattr(t.settings, TEMPLATES.get(purpose, ""), None)
        if not template:
            return None
        if purpose in (t.context.get(LITERAL) or ()):
            return template.strip()      # the agent tool's own words: nothing in them is a placeholder
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
        (one Redis round trip; the statuses on the way, queued/sent..., record nothing, and so does any
        status of an unknown or archived transfer)."""
        event_type = FINAL_STATUSES.get(status)
        if event_type is None:
            return False
        event = {"event": event_type, "purpose": purpose, "sid": sid, "status": status}
        if event_type == "text-undelivered":
            event["code"] = int(error_code) if (error_code or "").isdigit() else error_code
        return self._run(transfer_id, call_sid, f"{sid}:{status}", "1", event) == "recorded"
