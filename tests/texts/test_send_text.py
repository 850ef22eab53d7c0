"""The shared `send_text` job: one text per (transfer, purpose), recorded on the transfer with its delivery."""
from __future__ import annotations

from .conftest import events_of, messages_to

AGENT_NUMBER = "+15005550006"    # the session's agent number: the call came in on it, texts come from it


def test_a_job_run_twice_texts_once_and_records_sent_then_delivered(sim, phone, api, queue, wait_transfer):
    sim.add_persona({"address": "+14155550101", "kind": "human", "answer_after": 0.1, "hangup_after": 0.5})
    caller = "+14155550911"
    call = phone(caller)
    transfer = api("post", f"/api/calls/{call}/transfers", json={"to": "billing"}).get_json()
    wait_transfer(transfer["id"])
    for _ in range(2):     # a duplicate enqueue (or a lease re-fire) of the same text
        queue.enqueue_call("workers.jobs.send_text", args=(transfer["id"], "note", None, "Your case is 42."))

    delivered = sim.wait_for(lambda: events_of(api, transfer["id"], "text-delivered"), timeout=10,
                             message="text delivered")
    sent = events_of(api, transfer["id"], "text-sent")
    assert len(sent) == 1 and sent[0]["purpose"] == "note" and sent[0]["to"] == caller
    assert delivered[0]["sid"] == sent[0]["sid"]
    assert len(delivered) == 1
    created = messages_to(sim, caller)
    assert len(created) == 1
    assert created[0]["From"] == AGENT_NUMBER and created[0]["Body"] == "Your case is 42."
    assert "/twilio/texts/status?" in created[0]["StatusCallback"]
