"""The verification helper receivers use (handoff/webhook_signature.py)."""
from __future__ import annotations

import hashlib
import hmac

from handoff import webhook_signature as ws

SECRET = "whsec-0123456789abcdef"
BODY = (b'{"id":"1712345678901-0","type":"completed","created_at":"2024-04-05T19:34:38.901+00:00",'
        b'"transfer_id":"tr_1","call_sid":"CA1","data":{"outcome":"transfer-success"}}')


def test_sign_is_stripe_style_hmac_over_timestamp_dot_body():
    header = ws.sign(SECRET, BODY, 1712345678)
    expected = hmac.new(SECRET.encode(), b"1712345678." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1712345678,v1={expected}"


def test_verify_accepts_a_fresh_signature_of_the_exact_body():
    header = ws.sign(SECRET, BODY)
    assert ws.verify(SECRET, BODY, header)
    assert ws.verify(SECRET, BODY.decode(), header)        # str bodies too


def test_verify_refuses_tampering_another_secret_and_garbage():
    header = ws.sign(SECRET, BODY)
    assert not ws.verify(SECRET, BODY + b" ", header)
    assert not ws.verify("another-secret-0123456789", BODY, header)
    for bad in (None, "", "t=,v1=", "v1=abc", f"t={header[2:12]}", "t=12,v1=é", "garbage"):
        assert not ws.verify(SECRET, BODY, bad), bad


def test_verify_refuses_replays_outside_the_tolerance():
    old = ws.sign(SECRET, BODY, 1_000_000)
    assert not ws.verify(SECRET, BODY, old)
    assert ws.verify(SECRET, BODY, old, tolerance=300, now=1_000_000 + 299)
    assert not ws.verify(SECRET, BODY, old, tolerance=300, now=1_000_000 + 301)
    assert ws.verify(SECRET, BODY, old, tolerance=0)       # the age check off


def test_any_of_several_signatures_may_match_while_a_secret_is_rotated():
    t = 1_700_000_000
    header = f"t={t},v1={'0' * 64},v1={ws.compute(SECRET, BODY, t)}"
    assert ws.verify(SECRET, BODY, header, now=t)


def test_the_readme_receiver_verifies_our_signatures(monkeypatch):
    """The README's copy-pastable receiver accepts what Handoff signs and refuses anything else."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Event webhooks", 1)[1]
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", section, re.S) if "def verify(" in block)
    monkeypatch.setenv("HANDOFF_EVENTS_SECRET", SECRET)
    namespace: dict = {"__name__": "readme_receiver"}
    exec(compile(snippet, "README.md", "exec"), namespace)
    client = namespace["app"].test_client()
    url = next(rule.rule for rule in namespace["app"].url_map.iter_rules() if rule.endpoint != "static")

    signed = {"Handoff-Signature": ws.sign(SECRET, BODY), "Content-Type": "application/json"}
    assert client.post(url, data=BODY, headers=signed).status_code == 204
    assert client.post(url, data=BODY + b" ", headers=signed).status_code == 400
    stale = {**signed, "Handoff-Signature": ws.sign(SECRET, BODY, 1_000_000)}
    assert client.post(url, data=BODY, headers=stale).status_code == 400
    assert client.post(url, data=BODY, headers={"Content-Type": "application/json"}).status_code == 400
    assert namespace["verify"](SECRET, BODY, f"t=1,v1={'0' * 64},v1=é", tolerance=0) is False
