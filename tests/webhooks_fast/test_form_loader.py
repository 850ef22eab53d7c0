"""The webhooks' fast form loaders give what marshmallow's Schema.load gives, on valid and invalid forms alike.

Every FormLoader the webhook blueprints use is fed the same inputs as its schema: the loaded values,
or the field errors (the 400 `invalid_webhook` names them), must be identical.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from blueprints import transfer_callbacks, voice
from blueprints.form_loader import FormLoader
from blueprints.schemas import HandoffDataSchema, TransferRequestSchema

LOADERS = {f"{module.__name__}.{name}": loader for module in (voice, transfer_callbacks)
           for name, loader in vars(module).items() if isinstance(loader, FormLoader)}

VALUES = ["", " ", "0", "1", "-1", "7", "10001", "99999999999999999999", "1_000", " 12 ", "١٢", "1.5", "true", "false",
          "True", "yes", "off", "#", "*", "12", "CA" + "ab" * 16, "CA" + "AB" * 16, "CA" + "ab" * 16 + "\n",
          "AC" + "feedface" * 4, "+14155550100", "ringing", "completed", "human", "participant-join",
          "x" * 33, "x" * 65, "x" * 257, "x" * 2049, "a\x00b", "\x0b", "\t", "line\nbreak", "\ufffe", "\x85", "zoë 🎧",
          "<Say>&amp;</Say>", "{}"]
TEXT = st.one_of(st.sampled_from(VALUES), st.text(max_size=40),
                 st.text(alphabet=st.sampled_from(["0", "9", "C", "A", "a", "f", "#", "\x00", "\n", "é", "-"]),
                         max_size=36))


def _keys(loader: FormLoader) -> list[str]:
    return [field.data_key or name for name, field in loader.schema.load_fields.items()]


def _inputs(loader: FormLoader):
    keys = _keys(loader) + ["Whatever", "ApiVersion"]
    return st.dictionaries(st.sampled_from(keys), TEXT, max_size=len(keys))


def _marshmallow(loader: FormLoader, data: dict):
    try:
        return loader.schema.load(data), {}
    except ValidationError as exc:
        return None, exc.messages


def _fast(loader: FormLoader, data: dict):
    loaded, errors = loader.load(data)
    return (None if errors else loaded), errors


def test_the_hot_webhooks_use_loaders():
    assert len(LOADERS) >= 10
    assert {"blueprints.voice._incoming", "blueprints.voice._status", "blueprints.transfer_callbacks._query",
            "blueprints.transfer_callbacks._conference"} <= set(LOADERS)


@pytest.mark.parametrize("name", sorted(LOADERS))
@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(data=st.data())
def test_fast_loader_matches_schema_load(name, data):
    loader = LOADERS[name]
    form = data.draw(_inputs(loader))
    assert _fast(loader, form) == _marshmallow(loader, form)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_each_field_alone_valid_and_invalid(name):
    """Every field of every form with each sample value, the others valid or absent: the same answer."""
    loader = LOADERS[name]
    base = {"CallSid": "CA" + "ab" * 16, "AccountSid": "AC" + "feedface" * 4, "From": "+14155550100",
            "To": "+15005550006", "CallStatus": "ringing", "DialCallStatus": "completed", "c": "CA" + "cd" * 16,
            "StatusCallbackEvent": "participant-join"}
    seen_errors = 0
    for key in _keys(loader):
        for value in VALUES:
            for form in ({**base, key: value}, {k: v for k, v in base.items() if k != key}):
                fast = _fast(loader, form)
                assert fast == _marshmallow(loader, form), (key, value)
                seen_errors += bool(fast[1])
    assert seen_errors, "no sample made an error: the comparison would prove nothing"


def test_a_schema_that_does_more_than_its_fields_is_refused():
    with pytest.raises(TypeError):
        FormLoader(HandoffDataSchema())     # a pre_load hook, nested lists
    with pytest.raises(TypeError):
        FormLoader(TransferRequestSchema())     # unknown=RAISE
