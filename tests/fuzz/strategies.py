"""Hypothesis strategies for hostile input: JSON of every shape, nasty strings, raw bytes."""
from __future__ import annotations

import json

from hypothesis import strategies as st

# Characters that break things: NUL and other controls, lone surrogates, XML-forbidden, RTL marks.
NASTY_CHARS = ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x85", "\ud800", "\udfff", "\ufffe", "\uffff",
               "\u202e", "\n", "\r", "\t", "<", ">", "&", "'", '"', "%", "\\", "é", "😀"]
# Values the service gives meaning to, so the fuzzer reaches past the first check.
MEANINGFUL = ["billing", "auto", "warm", "cold", "agent", "+14155550100", "+14155550100;ext=12", "sip:a@b.example",
              "client:x", "CA" + "ab" * 16, "true", "2026-11-23T10:00:00-05:00", "0001-01-01T00:00:00+05:00",
              "9999-12-31T23:59:59-05:00", "openai", "ultravox", "<caller_name>", "<nope>", ""]


def nasty_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Strings mixing ordinary text, the service's own words and hostile characters."""
    return st.one_of(
        st.sampled_from(MEANINGFUL),
        st.text(alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(NASTY_CHARS)), max_size=max_size),
        st.text(alphabet=st.characters(), max_size=max_size),    # includes lone surrogates
    )


def numbers() -> st.SearchStrategy:
    return st.one_of(st.integers(), st.integers(min_value=-(10 ** 400), max_value=10 ** 400),
                     st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none())


def json_values(max_leaves: int = 20) -> st.SearchStrategy:
    """Any JSON value (strings may hold lone surrogates: json.dumps escapes them as \\ud800)."""
    return st.recursive(
        st.one_of(numbers(), nasty_text()),
        lambda children: st.one_of(st.lists(children, max_size=5),
                                   st.dictionaries(nasty_text(12), children, max_size=5)),
        max_leaves=max_leaves)


def deep(depth: int, kind: str = "list") -> str:
    """JSON nested `depth` deep, as text (building it as a value would itself recurse)."""
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def raw_bodies() -> st.SearchStrategy[bytes]:
    """Bodies that are not (good) JSON: random bytes, invalid UTF-8, deep nesting, huge numbers, NaN."""
    return st.one_of(
        st.binary(max_size=200),
        st.sampled_from([b"\xff\xfe{}", b'{"to": "\xc3\x28"}', b'{"to": "billing"', b"", b"NaN", b'{"a": NaN}',
                         b'{"timeout": 1e999}', b'{"timeout": -Infinity}', b'{"to": 1' + b"0" * 5000 + b"}",
                         b'{"to": "\\ud800"}', b'{"to": "\\u0000"}', b"\xef\xbb\xbf{}", b"[]", b"null", b'"x"']),
        st.builds(lambda d, k: deep(d, k).encode(), st.sampled_from([33, 1000, 100_000]),
                  st.sampled_from(["list", "dict"])),
    )


def json_bodies(field_names: list[str]) -> st.SearchStrategy[bytes]:
    """JSON objects using the API's own field names (and others), encoded as the client would send them."""
    keys = st.one_of(st.sampled_from(field_names), nasty_text(12))
    objects = st.dictionaries(keys, json_values(10), max_size=8)
    return st.one_of(objects, json_values()).map(lambda v: json.dumps(v).encode())


def plausible_bodies() -> st.SearchStrategy[bytes]:
    """Bodies that are nearly right, so the fuzzer gets past validation into routing and the engine."""
    text = st.one_of(st.sampled_from(MEANINGFUL), nasty_text(30))
    variables = st.dictionaries(st.one_of(st.sampled_from(["intent", "language", "line", "account_id", "vip"]),
                                          nasty_text(10)), st.one_of(text, numbers()), max_size=4)
    transcript = st.lists(st.fixed_dictionaries({"text": text}, optional={"role": text}), max_size=3)
    optional = {"mode": st.sampled_from(["cold", "warm", "agent", "lukewarm"]), "message": text, "reason": text,
                "summary": text, "variables": variables, "final": st.booleans(), "timeout": numbers(),
                "caller_id": text, "refer": st.booleans(), "context": st.fixed_dictionaries({"transcript": transcript}),
                "at": st.one_of(st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()), text),
                "call_sid": st.sampled_from(["CA" + "ab" * 16, "CA" + "0" * 32, "nope"]), "destination": text}
    to = st.one_of(st.sampled_from(["billing", "auto", "warm_desk", "trio", "+14155550100", "+14155550100 x 12",
                                    "+19005550100", "retention_agent", "closed_desk", "sip:x@y.example"]), text)
    return st.fixed_dictionaries({"to": to}, optional=optional).map(lambda v: json.dumps(v).encode())
