"""Every Twilio webhook under /voice, enumerated from app.url_map, under random signed forms.

Each request carries a valid X-Twilio-Signature over PUBLIC_BASE_URL + path + query (as Twilio
computes it), so the fuzzer reaches past the signature check. No answer is a 5xx, an XML answer
is well-formed XML, and a JSON error is in the one error shape.
"""
from __future__ import annotations

import json
from urllib.parse import urlencode
from xml.etree import ElementTree

from hypothesis import given
from hypothesis import strategies as st

from .conftest import check_error_shape, fuzz_settings

# What Twilio sends, and printable text: most forms are clean, so the engine behind the schema runs.
CLEAN_TEXT = st.one_of(
    st.sampled_from(["", "+14155550100", "+15005550006", "sip:alice@pbx.example.com", "client:bob", "anonymous",
                     "completed", "busy", "no-answer", "failed", "canceled", "in-progress", "ringing", "answered",
                     "human", "machine_start", "fax", "unknown", "1", "2", "#", "participant-join",
                     "participant-leave", "conference-end", "conference-start", "caller", "recipient", "0", "-1",
                     "99999999999999999999", "<Say>hi</Say>", "]]>", "&amp;"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), max_size=30),
)
# Form text must be URL-encodable (no lone surrogates); controls and XML-forbidden characters stay in.
FORM_TEXT = st.one_of(
    CLEAN_TEXT,
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.text(alphabet=st.sampled_from(["\x00", "\x01", "\x08", "\x0c", "\x7f", "\x85", "\ufffe", "\uffff", "<", "&",
                                      "a", "1", "+", "\n"]), max_size=10),
)
HANDOFF = st.one_of(
    FORM_TEXT,
    st.fixed_dictionaries({"to": st.sampled_from(["billing", "warm_desk", "retention_agent", "+14155550100 x 1",
                                                  "nobody", ""])},
                          optional={"mode": FORM_TEXT, "reason": st.one_of(FORM_TEXT, st.integers()),
                                    "transcript": st.lists(st.fixed_dictionaries({"text": FORM_TEXT}), max_size=2)})
    .map(lambda spec: json.dumps({"transfer": spec})),
)
FIELDS = ["From", "To", "CallStatus", "Direction", "SessionStatus", "DialCallStatus", "DialCallSid",
          "DialCallDuration", "ReferCallStatus", "ReferSipResponseCode", "AnsweredBy", "Digits",
          "StatusCallbackEvent", "ConferenceSid", "ParticipantLabel", "SequenceNumber", "RecordingUrl", "Whatever"]
QUERY_KEYS = ["a", "c", "leg", "hd", "dt", "rt", "sw", "at", "k", "d", "x"]
QUERY_TEXT = st.one_of(st.sampled_from(["0", "1", "2", "-1", "7", "true", "false", "30", "#", "*", "", "CA" + "ab" * 16,
                                        "99999999999999999999999"]),
                       st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
# Our callback URLs' own query parameters (handoff/callback_urls.py), old and new names alike.
PLAUSIBLE_QUERY = {"a": st.sampled_from(["0", "1", "2", "7"]), "leg": st.sampled_from(["CA" + "ab" * 16, "caller"]),
                   "hd": st.sampled_from(["0", "1"]), "dt": st.sampled_from(["1", "30", "600"]),
                   "rt": st.sampled_from(["1", "30"]), "sw": st.sampled_from(["1", "60"]),
                   "at": st.sampled_from(["1", "8"]), "k": st.sampled_from(["1", "#"]), "d": st.sampled_from(["2", "*"])}
ID_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=30)


def _form(known: dict, *, clean: bool):
    """A clean form has every field Twilio sends (plausible values); a hostile one, any of them, any text."""
    text = CLEAN_TEXT if clean else FORM_TEXT
    sids = [known["call_sid"], "CA" + "cd" * 16]
    call_sid = st.sampled_from(sids) if clean else st.one_of(st.sampled_from(sids), FORM_TEXT)
    account = st.just("AC" + "feedface" * 4) if clean else st.one_of(st.just("AC" + "feedface" * 4), FORM_TEXT)
    fixed = {"CallSid": call_sid, "AccountSid": account}
    if clean:
        return st.fixed_dictionaries({**fixed, **{name: text for name in FIELDS}})
    return st.fixed_dictionaries(fixed, optional={name: text for name in FIELDS})


def webhook_routes(app) -> list[tuple[str, tuple[str, ...]]]:
    """(rule, path arguments) of every POST route under /voice, as registered."""
    return [(rule.rule, tuple(sorted(rule.arguments))) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/voice/") and "POST" in rule.methods]


def _check(response, where) -> None:
    assert response.status_code < 500, (where, response.get_data()[:500])
    assert response.status_code != 403, (where, "the signature was refused: signing is wrong")
    if "xml" in (response.mimetype or ""):
        ElementTree.fromstring(response.get_data())       # raises on anything not well-formed
    elif response.status_code >= 400 and response.mimetype == "application/json":
        check_error_shape(response)


def test_every_webhook_survives_random_signed_forms(app, known, sign):
    client = app.test_client()
    routes = webhook_routes(app)
    assert any(args for _, args in routes) and any(not args for _, args in routes), routes

    for rule, arguments in routes:
        @fuzz_settings(70)
        @given(ids=st.fixed_dictionaries({a: st.one_of(st.just(known["transfer_id"]), ID_TEXT) for a in arguments}),
               form=st.one_of(_form(known, clean=True), _form(known, clean=True), _form(known, clean=False)),
               handoff=st.one_of(st.none(), HANDOFF),
               query=st.one_of(st.fixed_dictionaries({"c": st.sampled_from([known["call_sid"], "CA" + "cd" * 16])},
                                                     optional=PLAUSIBLE_QUERY),
                               st.dictionaries(st.sampled_from(QUERY_KEYS), QUERY_TEXT, max_size=4)))
        def run(ids, form, handoff, query):
            path = rule
            for name, value in ids.items():
                path = path.replace(f"<{name}>", value)
            data = dict(form)
            if handoff is not None:
                data["HandoffData"] = handoff
            query_string = urlencode(query)
            signed = f"{path}?{query_string}" if query_string else path
            response = client.post(path, data=data, query_string=query_string, headers=sign(signed, data))
            _check(response, (signed, data))

        run()


def test_control_characters_in_from_never_make_malformed_twiml(app, sign):
    client = app.test_client()
    for bad in ("+1415\x00555", "\x0b", "+14155550100\ufffe", "\x1b[2J"):
        form = {"CallSid": "CA" + "ef" * 16, "AccountSid": "AC" + "feedface" * 4, "From": bad, "To": "+15005550006"}
        response = client.post("/voice/incoming", data=form, headers=sign("/voice/incoming", form))
        assert response.status_code == 400
        check_error_shape(response)
        assert "From" in response.get_json()["error"]["fields"]
