"""TwiML as text: values escaped exactly as twilio's VoiceResponse (ElementTree) writes them, and the frame.

The documents are string templates compiled once per kind (the modules next to this one): no tree is
built per request. tests/twiml checks every kind against twilio's own builders, byte for byte.
"""
from __future__ import annotations

import re

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
# Characters XML 1.0 cannot carry (controls, lone surrogates, U+FFFE/U+FFFF): a document holding
# one is not well-formed and Twilio rejects it (12100), so every spoken value passes through clean().
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(value) -> str:
    """A value safe inside a TwiML document (characters XML cannot carry are dropped)."""
    return _NOT_XML.sub("", str(value))


def text(value: str) -> str:
    """Character data, escaped as ElementTree does (&, <, >)."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def attr(value) -> str:
    """An attribute value, escaped as ElementTree does (also quotes and line breaks); bools as TwiML's."""
    if isinstance(value, bool):
        return "true" if value else "false"
    value = str(value)
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    if "\n" in value:
        value = value.replace("\n", "&#10;")
    if "\t" in value:
        value = value.replace("\t", "&#09;")
    return value


def element(tag: str, body: str, attrs: str = "") -> str:
    """`<tag attrs>body</tag>`, or `<tag attrs />` when empty (as ElementTree writes it); body is escaped."""
    return f"<{tag}{attrs}>{body}</{tag}>" if body else f"<{tag}{attrs} />"


def say(message: str, attrs: str = "") -> str:
    """<Say>: the message made XML-safe (clean) and escaped."""
    return element("Say", text(clean(message)), attrs)


def document(*verbs: str) -> str:
    """The whole document: the declaration, then <Response> with these verbs."""
    body = "".join(verbs)
    out = f"{_DECLARATION}<Response>{body}</Response>" if body else f"{_DECLARATION}<Response />"
    if not out.isascii():
        # ElementTree writes UTF-8 with xmlcharrefreplace: what UTF-8 cannot carry (a lone surrogate in
        # an uncleaned URL) becomes a character reference instead of failing the response.
        out = out.encode("utf-8", "xmlcharrefreplace").decode("utf-8")
    return out
