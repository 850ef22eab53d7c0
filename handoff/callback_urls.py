"""Every URL Handoff hands to Twilio, built from PUBLIC_BASE_URL in one place (blueprints match these)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class CallbackUrls:
    """Absolute callback URLs; the signature check validates against exactly these."""

    base: str

    def _url(self, path: str, **query) -> str:
        query = {k: v for k, v in query.items() if v is not None}
        return f"{self.base}{path}" + (f"?{urlencode(query)}" if query else "")

    def agent_ended(self) -> str:
        return self._url("/voice/agent-ended")

    def context(self, transfer_id: str) -> str:
        """Where a receiving agent reads the hand-off's context (bearer token)."""
        return f"{self.base}/api/transfers/{transfer_id}/context"

    def text_status(self, transfer_id: str, purpose: str, call_sid: str) -> str:
        """An SMS's delivery status callback (blueprints/texts.py); signed with its query, like the rest."""
        return self._url("/twilio/texts/status", transfer=transfer_id, purpose=purpose, c=call_sid)

    def transfer(self, transfer_id: str, name: str, call_sid: str, *, attempt: int | None = None,
                 leg: str | None = None, **settings: str | int | None) -> str:
        """A per-transfer callback such as dial-action, leg-status, leg-answer, key, conference.

        The caller's call SID (`c`) and any `settings` ride in the query string so the webhook
        needs no extra Redis read: Twilio signs the full URL, so they cannot be altered."""
        return self._url(f"/voice/transfers/{transfer_id}/{name}", c=call_sid, a=attempt, leg=leg, **settings)
