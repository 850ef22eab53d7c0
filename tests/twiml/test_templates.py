"""twiml/'s string templates write the same documents, byte for byte, as twilio's VoiceResponse builders.

The oracle (tests/twiml/reference.py) is the builder code the templates replaced. Every decision kind
twiml.render accepts is rendered both ways, with plain and hostile values: quotes, <, &, line breaks,
controls, unicode, a lone surrogate, empty and absent optional values. A value one side refuses must
be refused by the other with the same error.
"""
from __future__ import annotations

import typing
from dataclasses import fields
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st

import twiml
from handoff.transfer import decisions as d
from tests.fuzz.conftest import fuzz_settings

from . import reference

HOSTILE = ["", " ", "a", "+14155550100", 'say "hi"', "it's", "<Say>x</Say>", "a & b", "]]>", "&amp;", "\n", "\r\n",
           "\t", "x\x00y", "\x0b", "\ufffe", "zoë 🎧 日本", "\ud800", "{key}", "{", "}", "{0}", "%41+%2B",
           "https://x.example.com/a?b=1&c=2", "client:bob", "sip:alice@pbx.example.com;transport=tls"]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12),
                 st.text(alphabet=st.sampled_from(["<", ">", "&", '"', "'", "\n", "\r", "\t", "\x01", "\ud83c",
                                                    "é", "a", "{", "}"]), max_size=8))
OPTIONAL = st.one_of(st.none(), TEXT)
NUMBER = st.one_of(st.integers(min_value=-2, max_value=3600), st.sampled_from([0, 1, 30, 60]))
ENDPOINT = st.builds(d.Endpoint, kind=st.sampled_from(["number", "sip", "client", "queue"]), address=TEXT,
                     send_digits=OPTIONAL, username=OPTIONAL, password=OPTIONAL)
PARAMETERS = st.dictionaries(TEXT, st.one_of(TEXT, st.none(), st.integers()), max_size=4)
AGENT_KINDS = st.one_of(st.sampled_from(["conversation-relay", "stream", "twiml"]), TEXT)

# A strategy for every field name of every decision (by name: a new field gets one, or the test fails).
FIELD_VALUES = {"endpoint": ENDPOINT, "parameters": PARAMETERS, "timeout": NUMBER, "pause_seconds": NUMBER,
                "kind": AGENT_KINDS, "speech": st.booleans(),
                "otherwise": st.builds(d.ConnectAgent, kind=AGENT_KINDS, url=TEXT, action_url=TEXT,
                                       parameters=PARAMETERS, message=OPTIONAL),
                "music_url": OPTIONAL, "message": OPTIONAL, "announcement": OPTIONAL, "again_url": OPTIONAL,
                "caller_id": OPTIONAL,
                "text": st.one_of(TEXT, st.just(d.ConsentPrompt.__dataclass_fields__["text"].default))}
DECISIONS = typing.get_args(d.Decision)


def _strategy(kind):
    return st.builds(kind, **{f.name: FIELD_VALUES.get(f.name, TEXT) for f in fields(kind)})


def _outcome(render, decision):
    try:
        return "ok", render(decision)
    except Exception as exc:    # both sides must refuse alike (a dial to a queue, a prompt with "{x}")
        return type(exc).__name__, str(exc)


def test_every_decision_kind_is_covered():
    assert set(DECISIONS) == set(twiml._RENDERERS) == set(reference._RENDERERS)


@pytest.mark.parametrize("kind", DECISIONS, ids=lambda k: k.__name__)
@fuzz_settings(max_examples=150)
@given(data=st.data())
def test_templates_write_the_builders_documents(kind, data):
    decision = data.draw(_strategy(kind))
    assert _outcome(twiml.render, decision) == _outcome(reference.render, decision)


REPRESENTATIVE = [
    d.Hangup(), d.Declined(), d.TakenElsewhere(), d.SayAndHangup("Goodbye & thanks <3"),
    d.ConnectAgent("conversation-relay", "wss://agent.example.com/relay", "http://h/voice/agent-ended",
                   {"call_sid": "CA" + "ab" * 16, "caller": "client:zoë<&>\"'", "empty": ""}),
    d.ConnectAgent("stream", "wss://a/s", "http://h/a", {}, message="One moment"),
    d.ConnectAgent("twiml", "https://a/twiml?x=1", "http://h/a", {"caller": "+1 415"}),
    d.DialOut(d.Endpoint("number", "+14155550100", send_digits="ww123#"), "http://h/d?c=CA1&a=0", "http://h/s",
              30, caller_id="+15005550006", message="Transferring", pause_seconds=2),
    d.DialOut(d.Endpoint("sip", "sip:a@b;x-h=1", username="u", password=None), "http://h/d", "http://h/s", 20),
    d.DialOut(d.Endpoint("client", "client:bob"), "http://h/d", "http://h/s", 20, caller_id="+15005550006"),
    d.ReferOut(d.Endpoint("number", "+14155550100"), "http://h/r", message="Bye"),
    d.ReferOut(d.Endpoint("sip", "sip:a@b"), "http://h/r"),
    d.HoldInConference("tr_1", "", "http://h/left", "http://h/conf", announcement="Please hold"),
    d.HoldAudio("https://m/hold.mp3", None, announcement="Hold on"), d.HoldAudio(None, "Still looking"),
    d.HoldAudio(None, None, again_url="http://h/hold?c=CA1&a=0"), d.HoldAudio(None, None),
    d.ConsentPrompt("1", "http://h/consent?c=CA1&k=1", 8),
    d.Whisper("Caller <Ann> says: \"refund\" & more", "1", "2", "http://h/key", 8), d.Whisper("", "*", "#", "u", 1),
    d.JoinConference("tr_1", "http://h/conf", announcement="Connecting"),
    d.TakeVoicemail("Leave a message", "http://h/voicemail?c=CA1"), d.Announcement(""), d.Announcement("Joined"),
    d.OfferCallback("Press 1 & we'll call <you> back", "http://h/callback?c=CA1&a=0", True, 5,
                    d.ConnectAgent("conversation-relay", "wss://a/r", "http://h/a", {"transfer_outcome": "x"})),
    d.OfferCallback("Press 1", "http://h/callback", False, 6, d.ConnectAgent("twiml", "https://a/t?x=1", "h", {})),
]


@pytest.mark.parametrize("decision", REPRESENTATIVE, ids=lambda x: type(x).__name__)
def test_representative_documents_are_identical_and_well_formed(decision):
    document = twiml.render(decision)
    assert document == reference.render(decision)
    ElementTree.fromstring(document)


def test_the_documents_rendered_without_a_decision_are_identical():
    assert twiml.application_error() == reference.application_error()
    for message in ("Thank you. We will call you back. Goodbye.", "a & <b>", ""):
        assert twiml.say_and_hangup(message=message) == reference.say_and_hangup(message=message)
    assert set(DECISIONS) == {type(x) for x in REPRESENTATIVE}
