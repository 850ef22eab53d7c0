"""Warm transfers under stress: races, duplicated and reordered callbacks, summaries, announcements."""
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from twilio.request_validator import RequestValidator

from handoff.summary import BuiltinSummariser, OpenAICompatibleSummariser

from .helpers import back_with_agent, events

WARM = "+14155550150"


def _legs(transfer):
    return [e["leg"] for e in transfer["timeline"] if e["event"] == "leg-dialed"]


def _service_webhooks(sim, call_sids, base_url):
    hooks = []
    for sid in call_sids:
        for event in sim.timeline(sid):
            if event.get("type") == "webhook" and event["url"].startswith(base_url) \
                    and "/voice/incoming" not in event["url"]:
                hooks.append(event)
    return hooks


def test_duplicated_and_reordered_callbacks_change_nothing(app, client, sim, phone, api, wait_transfer,
                                                            service_env):
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.05, "press": "1", "press_after": 0.05})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk"}).get_json()
    before = wait_transfer(transfer["id"], lambda t: t["status"] == "bridged" and "bridged" in events(t))
    time.sleep(0.5)
    before = api("get", f"/api/transfers/{transfer['id']}").get_json()
    hooks = _service_webhooks(sim, [caller, *_legs(before)], service_env["PUBLIC_BASE_URL"])
    assert len(hooks) >= 6
    validator = RequestValidator(service_env["TWILIO_AUTH_TOKEN"])
    replay = hooks * 2
    random.Random(7).shuffle(replay)
    for hook in replay:
        path = hook["url"][len(service_env["PUBLIC_BASE_URL"]):]
        signature = validator.compute_signature(hook["url"], hook["params"])
        response = client.post(path, data=hook["params"], headers={"X-Twilio-Signature": signature})
        assert response.status_code in (200, 204)
    time.sleep(1.5)   # let any job the replays queued run
    after = api("get", f"/api/transfers/{transfer['id']}").get_json()
    assert events(after) == events(before), sorted({h["url"].split("/")[-1] for h in hooks})
    assert (after["status"], after["outcome"]) == (before["status"], before["outcome"]) == ("bridged",

                                                                                          "transfer-success")
    assert events(after) == events(before)
    # And the people on the call are still talking.
    leg = _legs(before)[0]
    assert sim.call(leg)["status"] == "in-progress" and sim.call(caller)["activity"] == "in-conference"


def test_late_callbacks_never_move_a_finished_transfer(client, sim, phone, api, wait_transfer, service_env):
    sim.add_persona({"address": WARM, "kind": "busy"})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk"}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-failed-connection-error"
    leg = _legs(done)[0]
    validator = RequestValidator(service_env["TWILIO_AUTH_TOKEN"])
    base = service_env["PUBLIC_BASE_URL"]
    for path, params in [
        (f"/voice/transfers/{transfer['id']}/leg-status?c={caller}&a=0", {"CallSid": leg, "CallStatus": "ringing"}),
        (f"/voice/transfers/{transfer['id']}/leg-answer?c={caller}&a=0", {"CallSid": leg, "AnsweredBy": "human"}),
        (f"/voice/transfers/{transfer['id']}/key?c={caller}&a=0&leg={leg}", {"CallSid": leg, "Digits": "1"}),
    ]:
        params = {"AccountSid": service_env["TWILIO_ACCOUNT_SID"], **params}
        response = client.post(path, data=params,
                               headers={"X-Twilio-Signature": validator.compute_signature(base + path, params)})
        assert response.status_code in (200, 204)
        assert b"<Conference" not in response.data
    after = api("get", f"/api/transfers/{transfer['id']}").get_json()
    assert (after["status"], after["outcome"]) == ("completed", "transfer-failed-connection-error")


def test_whisper_summarises_the_transcript(sim, phone, api, wait_transfer):
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.05, "press": "1", "press_after": 0.05})
    caller = phone()
    transcript = [{"role": "agent", "text": "How can I help?"},
                  {"role": "caller", "text": "My router keeps dropping the connection"},
                  {"role": "caller", "text": "I already restarted it twice"}]
    transfer = api("post", f"/api/calls/{caller}/transfers", json={
        "to": "warm_desk", "reason": "internet outage", "context": {"transcript": transcript}}).get_json()
    done = wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success")
    heard = " ".join(h.get("text") or "" for h in sim.heard(_legs(done)[0]))
    assert "router keeps dropping the connection" in heard and "restarted it twice" in heard


def test_bridge_announcement_plays_to_both_sides(sim, phone, api, wait_transfer):
    sim.add_persona({"address": "+14155550171", "kind": "human", "answer_after": 0.05, "press": "1",
                     "press_after": 0.05})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "announced_desk"}).get_json()
    done = wait_transfer(transfer["id"], lambda t: t["outcome"] == "transfer-success")
    leg = _legs(done)[0]
    for sid in (caller, leg):
        sim.wait_for(lambda: any("now connected with billing" in (h.get("text") or "") for h in sim.heard(sid)),
                     timeout=5, message="announcement heard")


def test_agent_handoff_moves_the_call_with_its_context(sim, phone, api, wait_transfer):
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={
        "to": "retention_agent", "mode": "agent", "reason": "wants to cancel",
        "context": {"transcript": [{"role": "caller", "text": "I want to cancel my plan"}]}}).get_json()
    done = wait_transfer(transfer["id"])
    assert done["outcome"] == "transfer-success"
    call = sim.wait_for(lambda: (c := sim.call(caller))["agent"]["url"] == "wss://agents.example.com/retention" and c,
                        timeout=5, message="with the retention agent")
    params = call["agent"]["parameters"]
    assert params["handoff_reason"] == "wants to cancel"
    assert "I want to cancel my plan" in params["handoff_transcript"]
    context = api("get", params["handoff_context_url"].split("127.0.0.1", 1)[1].split("/", 1)[1].join(["/", ""]))
    assert context.status_code == 200 and context.get_json()["transcript"][0]["text"] == "I want to cancel my plan"


class _LLM(BaseHTTPRequestHandler):
    delay = 0.0
    status = 200

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(self.delay)
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        content = f"Summary by {body['model']}: caller has a billing problem."
        self.wfile.write(json.dumps({"choices": [{"message": {"content": content}}]}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def llm_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    _LLM.delay, _LLM.status = 0.0, 200


TRANSCRIPT = [{"role": "caller", "text": "I was charged twice"}]


def test_llm_summariser_is_used_when_it_answers(llm_server):
    url = f"http://127.0.0.1:{llm_server.server_port}/v1"
    summariser = OpenAICompatibleSummariser(base_url=url, api_key="k", model="tiny", timeout=2)
    assert summariser.summarise(TRANSCRIPT, reason="billing") == "Summary by tiny: caller has a billing problem."


@pytest.mark.parametrize("delay,status", [(1.0, 200), (0.0, 500)])
def test_summariser_falls_back_when_the_llm_is_slow_or_failing(llm_server, delay, status):
    _LLM.delay, _LLM.status = delay, status
    url = f"http://127.0.0.1:{llm_server.server_port}/v1"
    summariser = OpenAICompatibleSummariser(base_url=url, api_key="k", model="tiny", timeout=0.3)
    started = time.monotonic()
    summary = summariser.summarise(TRANSCRIPT, reason="billing")
    assert summary == BuiltinSummariser().summarise(TRANSCRIPT, reason="billing")
    assert "charged twice" in summary
    assert time.monotonic() - started < 0.9


def _post_signed(client, service_env, path, params):
    validator = RequestValidator(service_env["TWILIO_AUTH_TOKEN"])
    params = {"AccountSid": service_env["TWILIO_ACCOUNT_SID"], **params}
    signature = validator.compute_signature(service_env["PUBLIC_BASE_URL"] + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def test_recipient_who_accepts_then_hangs_up_before_joining_does_not_strand_the_caller(
        client, sim, phone, api, wait_transfer, service_env):
    """Found by the 500-transfer benchmark: press 1, hang up before the conference join."""
    sim.add_persona({"address": WARM, "kind": "human", "answer_after": 0.05, "press": None})
    caller = phone()
    transfer = api("post", f"/api/calls/{caller}/transfers", json={"to": "warm_desk"}).get_json()
    screening = wait_transfer(transfer["id"], lambda t: "leg-answered" in events(t))
    leg = _legs(screening)[0]
    base = f"/voice/transfers/{transfer['id']}"
    key = _post_signed(client, service_env, f"{base}/key?c={caller}&a=0&leg={leg}", {"CallSid": leg, "Digits": "1"})
    assert b"<Conference" in key.data
    _post_signed(client, service_env, f"{base}/leg-status?c={caller}&a=0", {"CallSid": leg, "CallStatus": "completed"})
    done = wait_transfer(transfer["id"])
    assert (done["outcome"], done["outcome_detail"]) == ("transfer-screening-rejected", "hung up before joining")
    back_with_agent(sim, caller, "transfer-screening-rejected")
