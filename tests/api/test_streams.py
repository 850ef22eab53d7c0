"""Live events over Server-Sent Events, read with a real HTTP client from the live app while transfers run."""
from __future__ import annotations

import json
import time

from .conftest import WARM


class Stream:
    """A Server-Sent Events reader: one message (id, event, data, comments) at a time."""

    def __init__(self, http, path: str, **headers):
        self.response = http.get(http.base + path, stream=True, timeout=(3, 10),
                                 headers={"Accept": "text/event-stream", **headers})
        self.lines = self.response.iter_lines(chunk_size=1, decode_unicode=True)
        self.comments: list[str] = []
        self.retry: str | None = None

    def next(self) -> dict | None:
        """The next message with an event, or None when the server ended the stream."""
        message: dict = {}
        for line in self.lines:
            if line == "":
                if "event" in message or "data" in message:
                    if "data" in message:
                        message["data"] = json.loads(message["data"])
                    return message
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "retry":
                self.retry = value
            else:
                message[name] = value
        return None

    def until(self, predicate) -> list[dict]:
        """Messages up to and including the first that satisfies `predicate` (AssertionError at the end)."""
        got = []
        while True:
            message = self.next()
            assert message is not None, f"the stream ended first; got {[m.get('event') for m in got]}"
            got.append(message)
            if predicate(message):
                return got

    def rest(self) -> list[dict]:
        got = []
        while (message := self.next()) is not None:
            got.append(message)
        return got

    def close(self) -> None:
        self.response.close()


def _of(transfer_id: str, event: str):
    return lambda m: m.get("data", {}).get("transfer_id") == transfer_id and m["event"] == event


def test_a_transfer_stream_follows_a_warm_transfer_live_and_resumes_from_last_event_id(
        sim, start, http, api, wait_transfer, sse_timings):
    sse_timings(heartbeat=1, grace=0.3)
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.4, "press": "1", "press_after": 0.3})
    caller, transfer_id = start("+14155550191", to="warm_desk", reason="a refund")
    stream = Stream(http, f"/api/transfers/{transfer_id}/events")
    assert stream.response.status_code == 200
    assert stream.response.headers["Content-Type"].startswith("text/event-stream")
    assert stream.response.headers["Cache-Control"] == "no-cache"
    assert stream.response.headers["X-Accel-Buffering"] == "no"
    first = stream.until(lambda m: m["event"] == "leg-ringing")
    assert stream.retry == "3000"
    assert first[0]["event"] == "requested"                   # without Last-Event-ID: from the start
    assert all(m["id"] == m["data"]["id"] and m["event"] == m["data"]["event"] for m in first)
    stream.close()                                            # the browser tab goes away mid-transfer
    wait_transfer(transfer_id, lambda t: t["outcome"] == "transfer-success")
    sim.hangup(caller)
    wait_transfer(transfer_id)                                # completed: the conference is over
    resumed = Stream(http, f"/api/transfers/{transfer_id}/events", **{"Last-Event-ID": first[-1]["id"]})
    rest = resumed.rest()                                     # ends by itself after `completed` + grace
    assert rest[-1]["event"] == "end"
    missed = api("get", f"/api/transfers/{transfer_id}/events?after={first[-1]['id']}").get_json()
    got = [m["id"] for m in rest[:-1]]
    assert got == [e["id"] for e in missed][:len(got)]        # exactly the missed ones, in order
    names = [m["event"] for m in rest]
    for expected in ("whisper-started", "key-pressed", "bridged", "outcome", "completed"):
        assert expected in names, (expected, names)
    everything = [e["id"] for e in api("get", f"/api/transfers/{transfer_id}/events").get_json()]
    assert [m["id"] for m in first] + got == everything[:len(first) + len(got)]   # no gap, no duplicate
    # Over, and nothing new since (the last stragglers, such as legs leaving, have arrived): 204 tells
    # EventSource to stop reconnecting.
    def settled():
        before = api("get", f"/api/transfers/{transfer_id}/events").get_json()[-1]["id"]
        time.sleep(0.3)
        return before if api("get", f"/api/transfers/{transfer_id}/events").get_json()[-1]["id"] == before else None

    last = sim.wait_for(settled, timeout=10, message="no more events")
    again = http.get(f"{http.base}/api/transfers/{transfer_id}/events", timeout=5,
                     headers={"Accept": "text/event-stream", "Last-Event-ID": last})
    assert again.status_code == 204


def test_the_feed_streams_every_transfer_live_and_resumes_without_gap_or_duplicate(
        sim, start, http, api, wait_transfer, sse_timings):
    sse_timings(heartbeat=1)
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.4, "press": "1", "press_after": 0.3})
    feed = Stream(http, "/api/events?stream=1", Accept="*/*")     # ?stream=1 needs no Accept header
    assert feed.response.headers["Content-Type"].startswith("text/event-stream")
    caller, transfer_id = start("+14155550192", to="warm_desk")
    live = feed.until(_of(transfer_id, "leg-ringing"))
    assert any(_of(transfer_id, "requested")(m) for m in live)   # live: the stream was open before it began
    feed.close()
    wait_transfer(transfer_id, lambda t: t["outcome"] == "transfer-success")
    sim.hangup(caller)
    wait_transfer(transfer_id)
    resumed = Stream(http, f"/api/events?last_event_id={live[-1]['id']}")
    rest = resumed.until(_of(transfer_id, "completed"))
    resumed.close()
    missed = api("get", f"/api/events?after={live[-1]['id']}&limit=500").get_json()
    assert [m["id"] for m in rest] == [e["id"] for e in missed][:len(rest)]
    assert not {m["id"] for m in live} & {m["id"] for m in rest}
    mine = [m["event"] for m in live + rest if m["data"]["transfer_id"] == transfer_id]
    history = [e["event"] for e in api("get", f"/api/transfers/{transfer_id}/events").get_json()]
    assert mine == history[:len(mine)]


def test_a_stream_sends_heartbeats_and_ends_after_its_lifetime(http, sse_timings):
    sse_timings(heartbeat=0.2, max=1.0)
    started = time.monotonic()
    stream = Stream(http, "/api/events")
    stream.rest()                                             # (events of other transfers may pass by)
    assert 1.0 <= time.monotonic() - started < 5              # ended by the server, EventSource reconnects
    assert "keep-alive" in stream.comments and stream.retry == "3000"


def test_json_answers_and_errors(http, api, start, sim, wait_transfer):
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.2})
    _, transfer_id = start("+14155550193", to="billing")
    wait_transfer(transfer_id)
    events = api("get", f"/api/transfers/{transfer_id}/events").get_json()
    assert isinstance(events, list) and events[0]["event"] == "requested"
    assert [e["id"] for e in events] == [e["id"] for e in api("get", f"/api/transfers/{transfer_id}").get_json()
                                         ["timeline"]][:len(events)]
    after = api("get", f"/api/transfers/{transfer_id}/events?after={events[1]['id']}").get_json()
    assert [e["id"] for e in after] == [e["id"] for e in events[2:]][:len(after)]
    recent = api("get", "/api/events?limit=3").get_json()
    assert len(recent) == 3 and recent[-1]["id"] >= events[-1]["id"]
    assert api("get", "/api/transfers/tr_nope/events").status_code == 404
    assert http.get(f"{http.base}/api/transfers/tr_nope/events?stream=1", timeout=5).status_code == 404
    bad = http.get(f"{http.base}/api/events", timeout=5,
                   headers={"Accept": "text/event-stream", "Last-Event-ID": "yesterday"})
    assert bad.status_code == 422 and "Last-Event-ID" in bad.json()["error"]["fields"]
    for query, field in (("after=x", "after"), ("limit=0", "limit"), ("bogus=1", "bogus")):
        response = api("get", f"/api/events?{query}")
        assert response.status_code == 422 and field in response.get_json()["error"]["fields"], query
    assert http.get(f"{http.base}/api/events?stream=1", timeout=5, headers={"Authorization": ""}).status_code == 401


def test_a_process_with_every_stream_taken_asks_the_client_to_come_back_later(app, http, monkeypatch):
    from blueprints.api_events import feed_hub

    monkeypatch.setattr(feed_hub(app), "max_subscribers", 0)
    busy = Stream(http, "/api/events")
    message = busy.next()
    assert busy.response.status_code == 200 and message["event"] == "busy" and int(busy.retry) >= 5000
    assert busy.next() is None


def test_a_stream_whose_body_is_never_read_gives_its_place_back(app, http):
    from blueprints.api_events import feed_hub

    hub = feed_hub(app)
    before = hub.subscribers
    response = http.head(f"{http.base}/api/events", timeout=5, headers={"Accept": "text/event-stream"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    deadline = time.monotonic() + 5
    while hub.subscribers > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub.subscribers == before
