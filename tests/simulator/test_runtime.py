"""Running it: personas file, CLI, GET webhooks, concurrency with hundreds of calls, settings, reset."""

import json
import os
import socket
import subprocess
import sys
import time

import requests

from conftest import ACCOUNT_SID, AUTH_TOKEN, CALLER, NUMBER
from simulator.core import Simulator
from simulator.testing import TEST_SETTINGS, run_simulator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_personas_yaml_file(tmp_path):
    path = tmp_path / "personas.yaml"
    path.write_text(
        "personas:\n"
        "  - address: '+14155550123'\n    name: Alice\n    kind: human\n    press: 1\n"
        "  - address: 'sip:bob@example.com'\n    kind: voicemail\n    greeting_seconds: 2\n"
        "numbers:\n  - number: '+15005550006'\n    voice_url: http://127.0.0.1:5000/voice\n")
    sim = Simulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)
    sim.load_personas(path)
    assert sim.persona_for("+14155550123").press == "1"
    assert sim.persona_for("sip:BOB@example.com;transport=tls").kind == "voicemail"
    assert sim.numbers["+15005550006"].voice_url.endswith("/voice")
    sim.shutdown()


def test_cli_serves_rest_and_control(tmp_path):
    personas = tmp_path / "p.json"
    personas.write_text(json.dumps({"personas": [{"address": "+14155550123"}], "numbers": []}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, SIM_PORT=str(port), TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
               SIM_PERSONAS=str(personas), SIM_PLAY_SECONDS="0.5")
    proc = subprocess.Popen([sys.executable, "-m", "simulator"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                r = requests.get(url + "/sim/personas", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)
        assert r.json()[0]["address"] == "+14155550123"
        assert requests.get(url + "/sim/settings", auth=(ACCOUNT_SID, AUTH_TOKEN)).json()["play_seconds"] == 0.5
        assert requests.get(url + "/sim/calls", auth=(ACCOUNT_SID, "nope")).status_code == 401
    finally:
        proc.terminate()
        proc.wait(5)


def test_get_method_webhooks_are_signed(sim, receiver):
    receiver.on("/next", "<Response><Say>Via GET</Say></Response>")
    sim.set_number(NUMBER, voice_url=receiver.on("/voice", "<Response><Redirect method='GET'>/next?x=1</Redirect></Response>"))
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["status"] == "completed")
    hit = receiver.requests_to("/next")[0]
    assert hit["method"] == "GET" and hit["valid"] and hit["params"]["CallSid"] == sid


def test_timeline_and_heard_tell_the_story(sim, receiver):
    receiver.on("/voice", "<Response><Say>Please hold</Say><Play loop='2'>http://x/music.mp3</Play>"
                          "<Dial>+14155550123</Dial></Response>")
    sim.set_number(NUMBER, voice_url=receiver.url + "/voice")
    sid = sim.place_call(from_=CALLER, to=NUMBER)
    sim.wait_for(lambda: sim.call(sid)["activity"] == "bridged")
    sim.hangup(sid)
    sim.wait_for(lambda: sim.call(sid)["status"] == "completed")
    heard = sim.heard(sid)
    assert [h["kind"] for h in heard] == ["say", "play", "play", "bridged"]
    assert heard[1]["seconds"] >= 0.15 and heard[-1]["with"] == "+14155550123"
    types = {e["type"] for e in sim.timeline(sid)}
    assert {"placed", "webhook", "twiml", "status", "heard", "bridged", "hangup"} <= types


def test_settings_and_reset(sim, client):
    assert sim.settings(rest_latency=0.2)["rest_latency"] == 0.2
    start = time.monotonic()
    client.calls.list(limit=1)
    assert time.monotonic() - start >= 0.2
    sim.settings(rest_latency=0)
    client.calls.create(to="+14155550123", from_=NUMBER, twiml="<Response><Pause length='5'/></Response>")
    sim.reset()
    assert sim.calls() == [] and sim.requests() == []


def test_three_hundred_concurrent_calls(receiver):
    receiver.on("/voice", "<Response><Say>Hello</Say><Pause length='1'/><Hangup/></Response>")
    personas = [{"address": f"+1415555{i:04d}", "kind": "human"} for i in range(300)]
    with run_simulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, personas=personas,
                       settings=TEST_SETTINGS) as sim:
        sim.set_number(NUMBER, voice_url=receiver.url + "/voice")
        sids = [sim.place_call(from_=p["address"], to=NUMBER) for p in personas]
        sim.wait_for(lambda: all(c["status"] == "completed" for c in sim.calls()), timeout=30)
        assert len({c["sid"] for c in sim.calls()}) == 300
        assert all(sim.simulator.calls[s].heard[0]["text"] == "Hello" for s in sids)
