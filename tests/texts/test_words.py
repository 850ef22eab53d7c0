"""The Inspector's words for the texts: what each told the caller, and why one did not arrive."""
from __future__ import annotations

from handoff.events import Event
from handoff.swimlane_words import summary, title


def _event(kind: str, **detail) -> Event:
    return Event(id="1-0", transfer_id="tr_1", call_sid="CA1", type=kind, at="", detail=detail)


def test_texts_are_worded_by_purpose_and_twilio_code():
    sent = _event("text-sent", purpose="before", to="+14155550100", sid="SM1")
    assert title(sent) == "Text sent (where the call is going)" and summary(sent) == "to +14155550100"
    landline = _event("text-undelivered", purpose="failure", sid="SM1", code=30006)
    assert title(landline) == "Text not delivered (nobody could take it)"
    assert summary(landline) == "Twilio 30006: a landline or unreachable carrier"
    refused = _event("text-failed", purpose="success", to="+14155550100", code=21610, error="unsubscribed")
    assert title(refused) == "Text not sent (connected)" and "the caller unsubscribed" in summary(refused)
    assert title(_event("text-delivered", purpose="callback")) == "Text delivered (callback)"
