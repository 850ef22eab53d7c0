"""The hand-off card's page at /cards/<token>: the caller's context for the warm recipient who accepted.

No bearer token: the signed link is the credential (handoff/card_tokens.py), and the domain decides
what it shows (handoff/cards.py). Anything not genuine is the same 404 as a card that never existed;
an expired card is a 410 that shows nothing. The page is one self-contained HTML document (no other
origin, no script), never cached, never indexed, and never sends its URL on as a referrer.
"""
from __future__ import annotations

from flask import Blueprint, current_app, make_response, render_template, request

from handoff.cards import Cards

bp = Blueprint("cards", __name__, template_folder="templates")

_HEADERS = {
    "Cache-Control": "no-store", "Pragma": "no-cache", "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'none'",
}


def _cards() -> Cards:
    cards = current_app.extensions.get("cards")
    if cards is None:
        cards = current_app.extensions["cards"] = Cards.from_runtime(current_app.extensions["handoff"])
    return cards


@bp.get("/cards/<token>")
def card(token: str):
    """The card (200), no such card (404), or no longer available (410)."""
    page = _cards().open(token, record=request.method == "GET")   # a HEAD (a link check) opens nothing
    response = make_response(render_template("cards/card.html", status=page.status, card=page.content),
                             page.status)
    response.headers.update(_HEADERS)
    return response
