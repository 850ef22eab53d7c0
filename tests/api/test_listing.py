"""GET /api/transfers and GET /api/calls: filters and cursor pagination over transfers run in the simulator."""
from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
import redis

from handoff.keys import Keys
from handoff.listing import Filters, Listing, SCAN_BUDGET, decode_cursor

from .conftest import BILLING, WARM, iso


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


@pytest.fixture
def three_transfers(sim, start, wait_transfer, since):
    """A cold success to billing, a cold busy SIP desk, and a warm transfer that is accepted; oldest first."""
    sim.add_persona({"address": BILLING, "kind": "human", "answer_after": 0.1, "hangup_after": 0.5})
    sim.add_persona({"address": "sip:busy@pbx.example.com", "kind": "busy"})
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.1, "press": "1", "press_after": 0.05})
    started = [start("+14155550181", to="billing", mode="cold"),
               start("+14155550182", to="busy_pbx", mode="cold"),
               start("+14155550183", to="warm_desk")]
    # A warm transfer that succeeded stays `bridged` while the conference lasts.
    done = [wait_transfer(started[0][1]), wait_transfer(started[1][1]),
            wait_transfer(started[2][1], lambda t: t["outcome"])]
    assert [t["outcome"] for t in done] == ["transfer-success", "transfer-failed-connection-error",
                                            "transfer-success"], [t["outcome"] for t in done]
    return {"since": since, "calls": [sid for sid, _ in started], "ids": [t["id"] for t in done]}


def test_transfers_newest_first_with_each_filter(three_transfers, api):
    ok, busy, warm = three_transfers["ids"]
    since = three_transfers["since"]
    q = f"/api/transfers?since={since}"
    assert _ids(api("get", q)) == [warm, busy, ok]
    assert _ids(api("get", q + "&outcome=transfer-success")) == [warm, ok]
    assert _ids(api("get", q + "&outcome=transfer-failed-connection-error,transfer-cancelled")) == [busy]
    assert _ids(api("get", q + "&mode=warm")) == [warm]
    assert _ids(api("get", q + "&mode=cold&mode=agent")) == [busy, ok]
    assert _ids(api("get", q + "&recipient=billing")) == [ok]
    assert _ids(api("get", q + f"&recipient={BILLING.replace('+', '%2B')}")) == [ok]     # by address too
    assert _ids(api("get", q + "&recipient=warm_desk")) == [warm]
    assert _ids(api("get", q + "&recipient=nobody")) == []
    assert _ids(api("get", q + "&status=completed")) == [busy, ok]
    assert _ids(api("get", q + "&status=bridged")) == [warm]
    assert _ids(api("get", q + "&status=active")) == [warm]           # every status but completed
    assert _ids(api("get", q + "&status=completed,bridged")) == [warm, busy, ok]
    assert _ids(api("get", f"/api/transfers?call_sid={three_transfers['calls'][1]}")) == [busy]
    assert _ids(api("get", q + f"&call_sid={three_transfers['calls'][1]}&outcome=transfer-success")) == []
    # until is exclusive, since inclusive: the window around the busy one's creation keeps only it.
    body = api("get", q).get_json()
    created = {item["id"]: item["created_at"] for item in body["items"]}
    window = urlencode({"since": created[busy], "until": created[warm]})
    assert _ids(api("get", f"/api/transfers?{window}")) == [busy]
    assert _ids(api("get", f"/api/transfers?since={iso(time.time() + 60)}")) == []


def test_transfer_summary_is_compact_and_says_where_it_went(three_transfers, api):
    items = api("get", f"/api/transfers?since={three_transfers['since']}").get_json()["items"]
    warm = items[0]
    assert set(warm) >= {"id", "call_sid", "mode", "status", "outcome", "outcome_detail", "to", "destination",
                         "attempt", "created_at", "finished_at"}
    assert "timeline" not in warm and "attempts" in warm
    assert warm["mode"] == "warm" and warm["to"] == "warm_desk" and warm["outcome"] == "transfer-success"
    assert warm["destination"].startswith("warm_desk") and warm["recipients"] == ["warm_desk"]
    busy = items[1]
    assert busy["outcome"] == "transfer-failed-connection-error" and busy["outcome_detail"]
    assert busy["status"] == "completed" and busy["finished_at"] >= busy["created_at"]


def test_pages_follow_the_cursor_and_stay_put_while_transfers_arrive(three_transfers, api, sim, start,
                                                                     wait_transfer):
    since = three_transfers["since"]
    first = api("get", f"/api/transfers?since={since}&limit=1")
    body = first.get_json()
    assert _ids(first) == [three_transfers["ids"][2]] and body["next_cursor"]
    assert 'rel="next"' in first.headers["Link"] and "limit=1" in first.headers["Link"]
    # A new transfer arrives between pages: it is newer than the cursor, so no page repeats or skips.
    sim.add_persona({"address": BILLING, "kind": "human", "answer_after": 0.1, "hangup_after": 0.3})
    _, newer = start("+14155550184", to="billing")
    seen = _ids(first)
    cursor = body["next_cursor"]
    while cursor:
        page = api("get", f"/api/transfers?since={since}&limit=1&cursor={cursor}")
        seen += _ids(page)
        cursor = page.get_json()["next_cursor"]
    assert seen == list(reversed(three_transfers["ids"]))
    assert _ids(api("get", f"/api/transfers?since={since}&limit=2"))[0] == newer
    wait_transfer(newer)


def test_calls_list_their_transfers_and_filter_through_them(three_transfers, api):
    since = three_transfers["since"]
    ok_call, busy_call, warm_call = three_transfers["calls"]
    body = api("get", f"/api/calls?since={since}").get_json()
    sids = [c["sid"] for c in body["items"]]
    assert sids == [warm_call, busy_call, ok_call]
    busy = body["items"][1]
    assert busy["from"] == "+14155550182" and busy["status"] and busy["active_transfer"] is None
    assert [t["id"] for t in busy["transfers"]] == [three_transfers["ids"][1]]
    assert busy["transfers"][0]["outcome"] == "transfer-failed-connection-error"
    assert [c["sid"] for c in api("get", f"/api/calls?since={since}&outcome=transfer-failed-connection-error")
            .get_json()["items"]] == [busy_call]
    assert [c["sid"] for c in api("get", f"/api/calls?since={since}&mode=warm").get_json()["items"]] == [warm_call]
    assert [c["sid"] for c in api("get", f"/api/calls?since={since}&recipient=billing").get_json()["items"]] \
        == [ok_call]
    assert [c["sid"] for c in api("get", f"/api/calls?call_sid={busy_call}").get_json()["items"]] == [busy_call]
    paged, cursor = [], None
    while True:
        page = api("get", f"/api/calls?since={since}&limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        paged += [c["sid"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert paged == sids


def test_a_transfer_in_flight_is_active(sim, start, api, wait_transfer, since):
    sim.add_persona({"address": WARM, "kind": "no-answer"})
    call, transfer_id = start("+14155550185", to="warm_desk")
    wait_transfer(transfer_id, lambda t: t["status"] in ("dialing", "ringing"))
    assert _ids(api("get", f"/api/transfers?since={since}&status=active")) == [transfer_id]
    calls = api("get", f"/api/calls?since={since}&status=active").get_json()["items"]
    assert [c["sid"] for c in calls] == [call] and calls[0]["active_transfer"] == transfer_id
    wait_transfer(transfer_id)
    assert _ids(api("get", f"/api/transfers?since={since}&status=active")) == []


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=many", "limit"), ("status=bogus", "status"),
    ("outcome=success", "outcome"), ("mode=lukewarm", "mode"), ("since=yesterday", "since"),
    ("until=2024-13-01", "until"), ("call_sid=CA123", "call_sid"), ("cursor=not-a-cursor", "cursor"),
    ("statuses=completed", "statuses"), ("since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z", "until"),
])
@pytest.mark.parametrize("path", ["/api/transfers", "/api/calls"])
def test_bad_filters_are_422_naming_the_field(path, query, field, api):
    response = api("get", f"{path}?{query}")
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and field in error["fields"], error


def test_listing_needs_the_token(client):
    assert client.get("/api/transfers").status_code == 401
    assert client.get("/api/calls").status_code == 401


def test_the_walk_pages_through_ties_and_skips_expired_entries(redis_server):
    """Many entries with one score (a burst within a millisecond) and hashes that expired first."""
    connection = redis.Redis.from_url(redis_server.url)
    keys = Keys(f"listing-{time.time_ns()}")
    ids = [f"tr_{n:04d}" for n in range(260)]
    pipe = connection.pipeline()
    for n, transfer_id in enumerate(ids):
        score = 1000.0 if n < 230 else 1000.0 + n          # 230 tied, then 30 newer ones
        pipe.zadd(keys.transfers_index(), {transfer_id: score})
        if n % 10 != 3:                                      # every tenth hash "expired"
            pipe.hset(keys.transfer(transfer_id), mapping={"id": transfer_id, "call_sid": "CA" + "0" * 32,
                                                           "status": "completed", "mode": "cold",
                                                           "outcome": "transfer-success" if n % 2 else ""})
    pipe.execute()
    listing = Listing(connection, keys)
    alive = [i for n, i in enumerate(ids) if n % 10 != 3]
    expected = sorted(alive, key=lambda i: (1000.0 if int(i[3:]) < 230 else 1000.0 + int(i[3:]), i), reverse=True)
    seen, cursor = [], None
    while True:
        page = listing.transfers(Filters(), cursor, limit=7)
        seen += [item["id"] for item in page.items]
        if not page.next_cursor:
            break
        assert decode_cursor(page.next_cursor)[1] == seen[-1]
        cursor = page.next_cursor
    assert seen == expected
    assert connection.zcard(keys.transfers_index()) == len(alive)   # expired entries were removed on the way
    odd = listing.transfers(Filters(outcome=frozenset({"transfer-success"})), None, limit=500)
    assert [i["id"] for i in odd.items] == [i for i in expected if int(i[3:]) % 2]
    assert SCAN_BUDGET >= 260 and odd.next_cursor is None
