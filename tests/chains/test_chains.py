"""Chained transfers on one call, end to end through the simulator with real workers: the links, the
context and history a later recipient gets, and TRANSFER_CHAIN_LIMIT stopping agents in a loop."""
from __future__ import annotations

import json
import threading
from urllib.parse import urlparse

from handoff.changes import Deadline
from handoff.state import DeadlineKind
from handoff.store import Store
from handoff.transfer.chain import merge_transcripts

from ..service.helpers import back_with_agent, events

BILLING, LEAD = "+14155550231", "+14155550232"
SPANISH_URL, FRONT_URL = "wss://agents.example.com/spanish", "wss://agents.example.com/front-desk"
DECLINES = {"kind": "human", "answer_after": 0.1, "press": "2", "press_after": 0.05}
ACCEPTS_THEN_HANGS_UP = {"kind": "human", "answer_after": 0.1, "press": "1", "press_after": 0.05, "hangup_after": 1.0}

GREETING = [{"role": "caller", "text": "Hola, necesito ayuda con mi factura"},
            {"role": "agent", "text": "Let me get you to a Spanish speaker."}]
DOUBLE_CHARGE = {"role": "caller", "text": "I was charged twice in October"}
LEAD_HUNG_UP = {"role": "caller", "text": "The billing lead hung up on me"}


def _with_agent(sim, caller: str, url: str) -> dict:
    """Wait until the caller is connected to the agent at `url`; its hand-off parameters."""
    call = sim.wait_for(lambda: (c := sim.call(caller))["activity"] == "with-agent" and c["agent"]["url"] == url
                        and c, timeout=10, message=f"caller with {url}")
    return call["agent"]["parameters"]


def _heard(sim, transfer: dict) -> str:
    """What the transfer's recipient legs heard (their whisper, prompts), as one text."""
    legs = {e.get("leg") for e in transfer["timeline"] if e["event"] == "leg-dialed"}
    return " ".join(h.get("text") or "" for leg in legs if leg for h in sim.heard(leg))


def _post(api, caller: str, **body) -> dict:
    response = api("post", f"/api/calls/{caller}/transfers", json=body)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def test_four_transfers_on_one_call_hand_their_context_to_the_last(sim, phone, chains_api, finished):
    sim.add_persona({"address": BILLING, **DECLINES})
    sim.add_persona({"address": LEAD, **ACCEPTS_THEN_HANGS_UP})
    caller = phone()

    # 1. The front-desk agent hands off to the Spanish-speaking agent.
    first = _post(chains_api, caller, to="spanish_agent", reason="speaks Spanish", context={"transcript": GREETING})
    assert (first["chain_index"], first["previous_transfer_id"]) == (1, None)
    assert finished(first["id"])["outcome"] == "transfer-success"
    params = _with_agent(sim, caller, SPANISH_URL)
    assert params["handoff_chain_index"] == "1" and "handoff_previous_transfer_id" not in params

    # 2. That agent transfers warm to a person in billing, who declines (the agent resends what it had).
    second = _post(chains_api, caller, to="billing_person", reason="a double charge",
                   context={"transcript": [*GREETING, DOUBLE_CHARGE]})
    assert (second["chain_index"], second["previous_transfer_id"]) == (2, first["id"])
    second = finished(second["id"])
    assert second["outcome"] == "transfer-screening-rejected"
    back_with_agent(sim, second["call_sid"], "transfer-screening-rejected")
    # The person heard the history in brief, after the summary (the default whisper)...
    assert "Earlier: spanish agent accepted." in _heard(sim, second)

    # 3. Then to the billing lead, who accepts, helps, and hangs up: the caller is back with the agent.
    third = _post(chains_api, caller, to="billing_lead", reason="a double charge", final=False,
                  context={"transcript": [{"role": "agent", "text": "Trying the billing lead now."}]})
    assert (third["chain_index"], third["previous_transfer_id"]) == (3, second["id"])
    third = finished(third["id"])
    assert third["outcome"] == "transfer-success"
    back_with_agent(sim, caller, "transfer-success")
    # ... and the lead's whisper places <history> itself.
    assert "Chained transfer about a double charge. Earlier: spanish agent accepted; billing person declined." \
        in _heard(sim, third)

    # 4. The agent hands the call to the front-desk agent, which fetches the whole story.
    fourth = _post(chains_api, caller, to="front_desk_agent", reason="back to the front desk",
                   context={"transcript": [*GREETING, DOUBLE_CHARGE, LEAD_HUNG_UP]})
    assert finished(fourth["id"])["outcome"] == "transfer-success"
    params = _with_agent(sim, caller, FRONT_URL)
    assert params["handoff_previous_transfer_id"] == third["id"] and params["handoff_chain_index"] == "4"
    context = chains_api("get", urlparse(params["handoff_context_url"]).path)
    assert context.status_code == 200
    context = context.get_json()
    assert (context["chain_index"], context["previous_transfer_id"]) == (4, third["id"])
    history = context["history"]
    assert [(h["transfer_id"], h["chain_index"], h["mode"], h["to"], h["outcome"]) for h in history] == [
        (first["id"], 1, "agent", "spanish_agent", "transfer-success"),
        (second["id"], 2, "warm", "billing_person", "transfer-screening-rejected"),
        (third["id"], 3, "warm", "billing_lead", "transfer-success")]
    assert [(a["to"], a["result"]) for a in history[1]["attempts"]] == [("billing_person", "declined")]
    assert [(a["to"], a["result"]) for a in history[2]["attempts"]] == [("billing_lead", "accepted")]
    assert history[1]["reason"] == "a double charge"
    # The conversation so far, each turn once, in order.
    assert [turn["text"] for turn in context["transcript"]] == [
        GREETING[0]["text"], GREETING[1]["text"], DOUBLE_CHARGE["text"], "Trying the billing lead now.",
        LEAD_HUNG_UP["text"]]

    # The call lists its chain in order, each link pointing at the one before.
    call = chains_api("get", f"/api/calls/{caller}").get_json()
    ids = [first["id"], second["id"], third["id"], fourth["id"]]
    assert [(link["position"], link["transfer_id"], link["previous_transfer_id"]) for link in call["chain"]] == \
        list(zip([1, 2, 3, 4], ids, [None, *ids[:3]]))
    assert [link["mode"] for link in call["chain"]] == ["agent", "warm", "warm", "agent"]
    assert [link["outcome"] for link in call["chain"]] == ["transfer-success", "transfer-screening-rejected",
                                                           "transfer-success", "transfer-success"]
    assert [t["id"] for t in call["transfers"]] == ids
    sim.hangup(caller)


def _refusals(app) -> float:
    """handoff_transfers_refused_total{reason="chain-limit"} as /metrics reports it."""
    text = app.test_client().get("/metrics").get_data(as_text=True)
    line = next((x for x in text.splitlines() if x.startswith('handoff_transfers_refused_total{reason="chain-limit"}')),
                None)
    return float(line.split()[-1]) if line else 0.0


def test_agents_handing_off_in_a_loop_are_stopped_by_the_chain_limit(sim, phone, chains_api, chains_app, finished):
    caller = phone()
    counted = _refusals(chains_app)
    ids = []
    for n in range(10):     # TRANSFER_CHAIN_LIMIT's default
        to, url = (("spanish_agent", SPANISH_URL), ("front_desk_agent", FRONT_URL))[n % 2]
        transfer = _post(chains_api, caller, to=to, reason="loop")
        assert transfer["chain_index"] == n + 1
        assert finished(transfer["id"])["outcome"] == "transfer-success"
        _with_agent(sim, caller, url)
        ids.append(transfer["id"])

    # The eleventh: refused with a clear 409, and the caller stays with the agent they are with.
    response = chains_api("post", f"/api/calls/{caller}/transfers", json={"to": "spanish_agent"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "chain_limit"
    assert "been through 10 transfers" in error["message"] and "TRANSFER_CHAIN_LIMIT" in error["message"]
    assert error["fields"] == {"transfer_id": [ids[-1]]}
    assert sim.call(caller)["activity"] == "with-agent" and sim.call(caller)["agent"]["url"] == FRONT_URL

    # The agent's tool gets the same answer, in a sentence it can act on.
    tool = chains_api("post", "/api/tools/transfer_call", json={"call_sid": caller, "destination": "spanish_agent"})
    assert tool.status_code == 409
    answer = tool.get_json()
    assert answer["ok"] is False and answer["error"]["code"] == "chain_limit"
    assert "can't transfer this call again" in answer["result"] and "10 transfers" in answer["result"]

    # So does a hand-off asked for in the agent session's HandoffData: the caller goes back to the agent, told why.
    sim.end_agent_session(caller, handoff_data=json.dumps({"transfer": {"to": "retention_agent", "mode": "agent"}}))
    call = sim.wait_for(lambda: (c := sim.call(caller))["activity"] == "with-agent"
                        and c["agent"]["parameters"].get("transfer_outcome") == "transfer-refused" and c,
                        timeout=10, message="caller back with the agent, refused")
    assert "TRANSFER_CHAIN_LIMIT" in call["agent"]["parameters"]["transfer_detail"]

    # Nothing was created; every refusal is on the chain's last transfer (Inspector, event webhooks) and counted.
    view = chains_api("get", f"/api/calls/{caller}").get_json()
    assert [link["transfer_id"] for link in view["chain"]] == ids
    last = chains_api("get", f"/api/transfers/{ids[-1]}").get_json()
    refusals = [e for e in last["timeline"] if e["event"] == "chain-limit-reached"]
    assert [(e["via"], e["transfers"], e["limit"]) for e in refusals] == [("api", 10, 10), ("tool", 10, 10),
                                                                          ("handoff", 10, 10)]
    assert _refusals(chains_app) >= counted + 3
    sim.hangup(caller)


def test_a_limit_reached_after_the_chain_was_read_is_recorded_by_the_create_step(sim, phone, chains_app, chains_api,
                                                                                  finished):
    """The request read a chain with room left, then the limit was hit before it was stored: create.lua refuses
    it and records the refusal itself (no further round trip), as the early check does."""
    caller = phone()
    first = _post(chains_api, caller, to="spanish_agent", reason="one")
    assert finished(first["id"])["outcome"] == "transfer-success"
    _with_agent(sim, caller, SPANISH_URL)
    counted = _refusals(chains_app)
    live = chains_app.extensions["handoff"].store
    # The same Redis with TRANSFER_CHAIN_LIMIT=1: the chain this request read (one transfer) is now full.
    store = Store(live.redis, keys=live.keys, ttl=live.ttl, feed_cap=live.feed_cap, chain_limit=1)
    created = store.create_transfer({"id": "tr_" + "ab" * 12, "call_sid": caller, "status": "requested",
                                     "previous_id": first["id"], "chain_index": 2},
                                    event={"event": "requested", "to": "front_desk_agent", "via": "handoff"},
                                    idempotency_key=None, fingerprint="", deadline=Deadline(DeadlineKind.START))
    assert (created.verdict, created.detail, created.chain) == ("chain-limit", first["id"], "1")
    timeline = chains_api("get", f"/api/transfers/{first['id']}").get_json()["timeline"]
    assert [(e["to"], e["via"], e["transfers"], e["limit"]) for e in timeline
            if e["event"] == "chain-limit-reached"] == [("front_desk_agent", "handoff", 1, 1)]
    assert _refusals(chains_app) == counted + 1
    assert [link["transfer_id"] for link in chains_api("get", f"/api/calls/{caller}").get_json()["chain"]] \
        == [first["id"]]
    sim.hangup(caller)


def test_a_concurrent_second_request_is_still_told_one_is_in_flight(sim, phone, chains_app, chains_api):
    sim.add_persona({"address": BILLING, "kind": "no-answer"})
    caller = phone()
    answers: list = []

    def ask():
        client = chains_app.test_client()
        answers.append(client.post(f"/api/calls/{caller}/transfers", json={"to": "billing_person", "timeout": 20},
                                   headers={"Authorization": "Bearer test-api-token-0123456789"}))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [202, 409]
    refused = next(a for a in answers if a.status_code == 409).get_json()["error"]
    started = next(a for a in answers if a.status_code == 202).get_json()
    assert refused["code"] == "transfer_in_progress" and refused["fields"] == {"transfer_id": [started["id"]]}
    assert started["chain_index"] == 1
    assert chains_api("post", f"/api/transfers/{started['id']}/cancel").status_code == 200
    back_with_agent(sim, caller, "transfer-cancelled")
    assert "requested" in events(chains_api("get", f"/api/transfers/{started['id']}").get_json())
    sim.hangup(caller)


def test_a_resent_transcript_is_not_duplicated():
    hello, help_, bill = ({"role": "caller", "text": t} for t in ("hello", "I need help", "my bill"))
    assert merge_transcripts([[hello, help_], [hello, help_, bill]]) == [hello, help_, bill]     # resent in full
    assert merge_transcripts([[hello, help_], [help_, bill]]) == [hello, help_, bill]            # resent its end
    assert merge_transcripts([[hello], [bill], []]) == [hello, bill]                             # only what is new
    # A turn said again later is a new turn: only a repeat of the conversation's end is a resend.
    yes = {"role": "caller", "text": "yes"}
    assert merge_transcripts([[hello, yes, bill], [yes, hello]]) == [hello, yes, bill, yes, hello]
    assert merge_transcripts([[hello, yes, bill], [yes, bill, help_]]) == [hello, yes, bill, help_]
    assert merge_transcripts([[hello, help_], [bill], [hello, help_, bill, yes]]) == [hello, help_, bill, yes]
    assert merge_transcripts([[hello, help_], [{"role": "Caller", "text": " hello "}, help_]]) == [hello, help_]
