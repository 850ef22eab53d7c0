"""Hand-off cards end to end: a warm recipient who accepts gets an SMS whose link shows the caller's
context during the call, and nothing (410) once the call has ended plus the grace; a tampered link is
a 404; a machine or a recipient who declines gets no card; the Inspector's timeline shows it sent and opened."""
from __future__ import annotations

import time

from handoff.cards import Cards, content
from handoff.record import Transfer
from tests.apps import wait_until
from tests.conftest import AGENT_NUMBER, API_TOKEN

from .conftest import ACCEPTS, DECLINES, VOICEMAIL, card_link, events_of, fetch, path_of, texts_to

CONTEXT = {"reason": "a disputed invoice", "summary": "Charged twice in October <b>bold</b>.",
           "variables": {"case_id": "C-4711", "tier": "gold"},
           "context": {"transcript": [{"role": "caller", "text": "I was charged twice."},
                                      {"role": "agent", "text": "Let me get billing."}]}}


def _card_text(sim, number: str, caller: str, *, timeout: float = 15) -> dict:
    """The card texted to `number` about the call from the number `caller` (other tests' cards may reach the same desk)."""
    return sim.wait_for(lambda: next((t for t in reversed(texts_to(sim, number)) if caller in t["Body"]), None),
                        timeout=timeout, message=f"a card texted to {number} about {caller}")


def _bridged(sim, cards_api, caller: str, to: str, **extra) -> dict:
    transfer = cards_api("post", f"/api/calls/{caller}/transfers", json={"to": to, **CONTEXT, **extra}).get_json()
    assert transfer.get("mode") == "warm", transfer
    sim.wait_for(lambda: sim.call(caller)["activity"] == "in-conference", timeout=15, message="caller bridged")
    return transfer


def test_an_accepting_recipient_gets_a_card_that_shows_the_context_and_records_its_opens(sim, phone, cards_api,
                                                                                          cards_app):
    desk = "+14155550711"
    sim.add_persona({"address": desk, **ACCEPTS})
    caller = phone("+14155550721")
    transfer = _bridged(sim, cards_api, caller, "card_desk")

    text = _card_text(sim, desk, "+14155550721")
    assert text["From"] == AGENT_NUMBER
    assert text["Body"].startswith("Handoff card for your call from +14155550721: http")
    assert "invoice" not in text["Body"] and "C-4711" not in text["Body"]   # the page has the rest
    link = card_link(text["Body"])
    assert len(link) < 160

    status, headers, page = fetch(link)
    assert status == 200
    for expected in ("+14155550721", "a disputed invoice", "Charged twice in October", "C-4711", "gold",
                     "case_id", "I was charged twice.", "Let me get billing."):
        assert expected in page, expected
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page      # escaped
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in headers["X-Robots-Tag"]
    assert 'name="viewport"' in page and "http" not in page.split("<body>")[1].replace(link, "")

    fetch(link)     # opened twice: each open is recorded, numbered
    opened = wait_until(lambda: len(events_of(cards_api, transfer["id"], "card-opened")) >= 2 and
                        events_of(cards_api, transfer["id"], "card-opened"), timeout=5, message="opens recorded")
    assert [e["opens"] for e in opened] == [1, 2]
    sent = events_of(cards_api, transfer["id"], "text-sent")
    assert [(e["purpose"], e["to"]) for e in sent] == [("card", desk)]

    # The Inspector says it in words: the card was sent, then opened (twice).
    inspector = cards_app.test_client()
    assert inspector.post("/inspector/login", data={"token": API_TOKEN}).status_code == 303
    rows = inspector.get(f"/inspector/transfers/{transfer['id']}.json").get_json()["rows"]
    titles = [r["title"] for r in rows]
    assert "Card sent" in titles and "Card opened" in titles and "Card opened again (2×)" in titles
    assert titles.index("Card sent") < titles.index("Card opened")


def test_a_tampered_or_unknown_link_is_a_404_that_reveals_nothing(sim, phone, cards_api):
    desk = "+14155550711"
    sim.add_persona({"address": desk, **ACCEPTS})
    before = len(texts_to(sim, desk))
    caller = phone("+14155550722")
    _bridged(sim, cards_api, caller, "card_desk")
    link = sim.wait_for(lambda: len(texts_to(sim, desk)) > before and card_link(texts_to(sim, desk)[-1]["Body"]),
                        timeout=15, message="card texted")
    token = link.rsplit("/", 1)[1]
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    base = link.rsplit("/", 1)[0]
    answers = [fetch(f"{base}/{t}") for t in (flipped, token[:-1], token + "A", "garbage", "x" * 500)]
    assert {status for status, _, _ in answers} == {404}
    assert len({page for _, _, page in answers}) == 1          # the same page, whatever was wrong
    assert "+14155550722" not in answers[0][2] and "invoice" not in answers[0][2]
    assert fetch(link)[0] == 200


def test_the_card_expires_once_the_call_has_ended_plus_the_grace(sim, phone, cards_api, short_grace_app):
    desk = "+14155550712"
    sim.add_persona({"address": desk, **ACCEPTS})
    caller = phone("+14155559723")
    _bridged(sim, cards_api, caller, "card_expiry_desk")
    link = card_link(_card_text(sim, desk, "+14155559723")["Body"])
    short = short_grace_app.test_client()
    assert short.get(path_of(link)).status_code == 200       # during the call, even with a short grace

    sim.hangup(caller)
    response = wait_until(lambda: (r := short.get(path_of(link))).status_code == 410 and r, timeout=10,
                          message="card expired")
    page = response.get_data(as_text=True)
    assert "no longer available" in page and "invoice" not in page and "+14155559723" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert fetch(link)[0] == 200      # the default grace (10 minutes) still shows it


def test_a_card_past_its_hard_cap_is_gone_even_during_the_call(sim, phone, cards_api, cards_app):
    desk = "+14155550711"
    sim.add_persona({"address": desk, **ACCEPTS})
    caller = phone("+14155550730")
    transfer = _bridged(sim, cards_api, caller, "card_desk")
    leg = wait_until(lambda: [e["leg"] for e in events_of(cards_api, transfer["id"], "bridged")], timeout=5,
                     message="bridged")[0]
    cards = Cards.from_runtime(cards_app.extensions["handoff"])    # what the worker signs with
    old = cards.link(transfer["id"], leg, now=time.time() - cards.max_age - 1)
    fresh = cards.link(transfer["id"], leg)
    assert fetch(old)[0] == 410 and fetch(fresh)[0] == 200
    assert fetch(cards.link(transfer["id"], "CA" + "0" * 32))[0] == 404   # a leg that did not accept


def test_a_machine_gets_no_card(sim, phone, cards_api, finished):
    desk = "+14155550713"
    sim.add_persona({"address": desk, **VOICEMAIL})
    caller = phone("+14155550724")
    transfer = cards_api("post", f"/api/calls/{caller}/transfers", json={"to": "card_machine_desk", **CONTEXT})
    done = finished(transfer.get_json()["id"])
    assert done["outcome"] == "transfer-failed-timeout"
    assert texts_to(sim, desk) == []
    assert not [e for e in done["timeline"] if e["event"].startswith("text-")]


def test_a_recipient_who_declines_gets_no_card(sim, phone, cards_api, finished):
    desk = "+14155550714"
    sim.add_persona({"address": desk, **DECLINES})
    caller = phone("+14155550725")
    transfer = cards_api("post", f"/api/calls/{caller}/transfers", json={"to": "card_decline_desk", **CONTEXT})
    done = finished(transfer.get_json()["id"])
    assert done["outcome"] == "transfer-screening-rejected"
    assert texts_to(sim, desk) == []
    assert not [e for e in done["timeline"] if e["event"].startswith("text-")]


def test_card_to_texts_the_recipients_mobile_not_the_desk_phone(sim, phone, cards_api):
    desk, mobile = "+14155550715", "+14155550716"
    sim.add_persona({"address": desk, **ACCEPTS})
    caller = phone("+14155550726")
    _bridged(sim, cards_api, caller, "card_mobile_desk")
    link = card_link(_card_text(sim, mobile, "+14155550726")["Body"])
    assert texts_to(sim, desk) == []
    assert fetch(link)[0] == 200


def test_the_request_asks_for_a_card_the_recipient_does_not_have(sim, phone, cards_api):
    desk = "+14155550717"
    sim.add_persona({"address": desk, **ACCEPTS})
    # Without asking, that recipient gets none; asked for (bridged after it), it gets one: only that one.
    plain = _bridged(sim, cards_api, phone("+14155550728"), "plain_desk")
    asked = _bridged(sim, cards_api, phone("+14155550727"), "plain_desk", card=True)
    text = _card_text(sim, desk, "+14155550727")
    assert "+14155550727" in text["Body"] and fetch(card_link(text["Body"]))[0] == 200
    wait_until(lambda: events_of(cards_api, asked["id"], "text-sent"), timeout=10, message="card recorded")
    assert len(texts_to(sim, desk)) == 1
    assert not events_of(cards_api, plain["id"], "text-sent", "text-failed")


def test_a_card_request_field_that_is_not_a_boolean_is_a_422(phone, cards_api):
    caller = phone("+14155550729")
    response = cards_api("post", f"/api/calls/{caller}/transfers", json={"to": "card_desk", "card": "maybe"})
    assert response.status_code == 422
    assert "card" in response.get_json()["error"]["fields"]


def test_the_cards_history_shows_what_a_person_reads_not_internal_fields():
    earlier = {"transfer_id": "tr_" + "1" * 24, "chain_index": 1, "previous_transfer_id": None, "mode": "warm",
               "to": "billing", "reason": "a double charge", "summary": None, "outcome": "transfer-failed",
               "outcome_detail": "nobody accepted", "created_at": "2026-01-01T12:00:00+00:00",
               "attempts": [{"attempt": 0, "to": "billing_person", "result": "declined", "detail": None,
                             "said": "billing person declined"},
                            {"attempt": 1, "to": "billing_lead", "result": "no-answer", "detail": None,
                             "said": "billing lead did not answer"}],
               "transcript": [{"role": "caller", "text": "hello"}]}
    t = Transfer.parse({"id": "tr_" + "2" * 24, "call_sid": "CA" + "0" * 32, "mode": "warm", "status": "bridged"})
    shown = content(t, {"history": [earlier]}, {"from": "+14155550799"})["history"]
    assert shown == [{"title": "warm · billing",
                      "lines": ["Reason: a double charge", "How it ended: nobody accepted",
                                "billing_person: declined", "billing_lead: did not answer"]}]
