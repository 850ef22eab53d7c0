"""Callback offers, the last resort that lets a caller nobody could take be called back.

The offer (`offer`) is the caller's next document after a failed transfer whose last resort is
`callback` (Lifecycle.caller_next): a one-key <Gather> (or a spoken yes) that falls through to the AI
agent when nothing is pressed. Its action (`Callbacks.answer`, a webhook: one Redis round trip,
lua/callback.lua) records a request taken once — the caller's number, the variables, the reason — as
a record listed by GET /api/callbacks and a `callback-requested` event (event webhooks, Inspector),
with the confirmation SMS queued in the same MULTI (`send_text`, handoff/texts.py). All of it is
bookkeeping on a finished transfer: its outcome never changes.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from typing import Sequence

from .callback_urls import CallbackUrls
from .changes import _pairs
from .keys import decode
from .listing import Filters, Listing, Page, decode_cursor
from .record import Transfer
from .store import utc_now_iso
from .transfer import decisions as d

DEFAULT_PROMPT = "Nobody can take your call right now. Press 1 and we'll call you back."
DEFAULT_MESSAGE = "Thank you. We will call you back as soon as we can. Goodbye."
ACCEPT_KEY = "1"
OFFER_SECONDS = 5                 # the <Gather>'s timeout: silence this long falls through to the agent
RECORD_TTL = 30 * 24 * 3600       # a request waits this long for someone to call back (then it expires)
EVENT_ID = "callback-answer"      # one answer per transfer (Twilio may POST the action twice)
# What a spoken answer to "shall we call you back?" means: a no anywhere wins over a yes.
_NO = re.compile(r"\b(no|nope|nah|don'?t|do not|not)\b", re.I)
_YES = re.compile(r"\b(yes|yeah|yep|yup|sure|please|ok|okay|alright|call me|one)\b", re.I)


def means_yes(speech: str | None) -> bool:
    """True when the caller's words (Twilio's SpeechResult) accept the offer."""
    words = (speech or "").strip()
    return bool(words) and not _NO.search(words) and bool(_YES.search(words))


def offer(t: Transfer, urls: CallbackUrls, *, otherwise: d.ConnectAgent) -> d.OfferCallback:
    """The offer to the caller of a failed transfer; `s=1` tells the action a confirmation text is due."""
    s = t.settings
    return d.OfferCallback(prompt=s.callback_prompt or DEFAULT_PROMPT, speech=bool(s.callback_speech),
                           action_url=urls.transfer(t.id, "callback", t.call_sid, s=1 if s.callback_sms else None),
                           timeout=OFFER_SECONDS, otherwise=otherwise)


class Callbacks:
    """The offer's answer (in a webhook) and the requests' listing (the API)."""

    def __init__(self, ctx, lifecycle):
        self.ctx = ctx
        self.store = ctx.store
        self.lifecycle = lifecycle

    def answer(self, transfer_id: str, call_sid: str, *, digits: str | None, speech: str | None,
               confidence: float | None, text: bool) -> d.Decision:
        """The caller answered the offer: a request recorded once (and its text queued), or back to the agent."""
        taken = digits == ACCEPT_KEY if digits else means_yes(speech)
        event = {"event": "callback-requested" if taken else "callback-declined", "at": utc_now_iso()}
        if digits:
            event["digits"] = digits
        elif speech:
            event.update(speech=speech, confidence=confidence)
        keys = self.store.keys
        request_id = "cb_" + secrets.token_hex(12) if taken else ""
        batch = self.store.batch()
        self.store.run("callback", [keys.transfer(transfer_id), keys.events(transfer_id), keys.seen(transfer_id),
                                    keys.call(call_sid), keys.call_variables(call_sid), keys.event_feed(),
                                    keys.callback(request_id or "-"), keys.callbacks_index(),
                                    keys.archive(transfer_id)],
                       [EVENT_ID, json.dumps(event, separators=(",", ":")), request_id, f"{time.time():.3f}",
                        self.store.feed_cap, self.store.ttl, RECORD_TTL], _parse, batch)
        if taken and text:
            # Once: send_text claims the purpose before it sends, so a duplicate POST's job sends nothing.
            self.ctx.jobs.enqueue("send_text", transfer_id, "callback", None, None, batch=batch)
        verdict, _, t = self.store.execute(batch)[0]
        if t is None:        # archived or expired: nothing to record on, nothing known to tell the agent
            return self.lifecycle.agent(None, call_sid=call_sid, outcome="transfer-failed-timeout",
                                        detail="the transfer is no longer known")
        if verdict == "refused":
            return self.lifecycle.caller_next(t)
        if t.fields.get("callback_id"):     # taken, now or by the first of duplicate POSTs
            return d.SayAndHangup(t.settings.callback_message or DEFAULT_MESSAGE)
        return self.lifecycle.told(t)

    def listing(self, filters: Filters, cursor: str | None = None, limit: int = 50) -> Page:
        """Callback requests, newest first (InvalidCursor for a bad cursor)."""
        return _Requests(self.store.redis, self.store.keys).page(filters, cursor, limit)


def _parse(raw: list) -> tuple[str, str, Transfer | None]:
    verdict, request_id = decode(raw[0]), decode(raw[1])
    fields = _pairs(list(raw[2:]))
    return verdict, request_id, Transfer.parse(fields) if fields else None


class _Requests(Listing):
    """The callbacks index walked like the transfers' (cursor pagination, since/until)."""

    def page(self, filters: Filters, cursor: str | None, limit: int) -> Page:
        position = decode_cursor(cursor) if cursor else None
        index = self.keys.callbacks_index()

        def fetch(ids: Sequence[str]) -> list[dict | None]:
            blobs = self.redis.mget([self.keys.callback(i) for i in ids]) if ids else []
            return [json.loads(blob) if blob else None for blob in blobs]

        return self._page(index, self._walk(index, filters, position, min(200, limit + 1)), fetch,
                          lambda record: record, limit)
