"""GET /api/transfers and GET /api/calls: newest first, filtered, with cursor pagination."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request

from handoff.listing import Filters, InvalidCursor, Listing, Page

from .errors import ApiError
from .listing_schemas import CallPageSchema, CallQuery, TransferPageSchema, TransferQuery, query_args
from .openapi import doc
from .security import bearer_token

bp = Blueprint("api_listing", __name__, url_prefix="/api")

_transfer_query, _call_query = TransferQuery(), CallQuery()
_transfer_page, _call_page = TransferPageSchema(), CallPageSchema()
_NEXT_HEADERS = {"Link": {"description": "`<...>; rel=\"next\"` when there is a next page",
                          "schema": {"type": "string"}}}


def _filters(query: dict) -> Filters:
    since, until = query.get("since"), query.get("until")
    return Filters(status=frozenset(query.get("status") or ()), outcome=frozenset(query.get("outcome") or ()),
                   mode=frozenset(query.get("mode") or ()), recipient=query.get("recipient"),
                   call_sid=query.get("call_sid"), since=since.timestamp() if since else None,
                   until=until.timestamp() if until else None)


def listing() -> Listing:
    runtime = current_app.extensions["handoff"]
    return Listing(runtime.redis, runtime.store.keys)


def _answer(page: Page, schema, last_event_id: str):
    response = jsonify(schema.dump({"items": page.items, "next_cursor": page.next_cursor,
                                    "last_event_id": last_event_id}))
    if page.next_cursor:
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"] + [("cursor", page.next_cursor)]
        response.headers["Link"] = f'<{request.path}?{urlencode(args)}>; rel="next"'
    return response


def read_page(schema_in, read):
    """A listing's query validated (422 naming the field) and its page read: (page, the feed's last id).
    The API and the Inspector's lists both read through here."""
    query = schema_in.load(query_args(schema_in))
    if query["since"] and query["until"] and query["since"] >= query["until"]:
        raise ApiError(422, "invalid_request", "until must be later than since",
                       fields={"until": ["must be later than since"]})
    # Read first: a live view that resumes the feed after this id misses nothing the page did not show.
    last_event_id = current_app.extensions["handoff"].events.last_id()
    try:
        return read(_filters(query), query["cursor"], query["limit"]), last_event_id
    except InvalidCursor as exc:
        raise ApiError(422, "invalid_request", f"cursor: {exc}", fields={"cursor": [str(exc)]}) from None


@bp.get("/transfers")
@bearer_token
@doc(query=TransferQuery, response=TransferPageSchema, tags=["transfers"], response_headers=_NEXT_HEADERS)
def list_transfers():
    """Transfers, newest first, filtered by status, outcome, mode, recipient, call and time.

    A page holds at most `limit` items; `next_cursor` (also in the `Link` header) asks for the next
    one and stays valid while new transfers arrive. With a narrow filter a page may hold fewer items
    than `limit` and still have a next page.
    """
    page, last_event_id = read_page(_transfer_query, listing().transfers)
    return _answer(page, _transfer_page, last_event_id)


@bp.get("/calls")
@bearer_token
@doc(query=CallQuery, response=CallPageSchema, tags=["calls"], response_headers=_NEXT_HEADERS)
def list_calls():
    """Calls Handoff answered, newest first, each with its transfers.

    `outcome`, `mode` and `recipient` keep the calls that have at least one matching transfer.
    """
    page, last_event_id = read_page(_call_query, listing().calls)
    return _answer(page, _call_page, last_event_id)
