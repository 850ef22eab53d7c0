"""ConversationRelay's HandoffData: load_handoff_data returns a transfer, None, or a ValidationError."""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

from blueprints.schemas import load_handoff_data
from handoff.transfer_request import TransferRequest

from .conftest import fuzz_settings
from .strategies import json_values, nasty_text

KEYS = {"to", "mode", "message", "reason", "summary", "variables", "final", "refer", "context", "at"}


@pytest.mark.parametrize("raw", [None, "", "   ", "goodbye", "[1, 2]", '"transfer"', "null", '{"reason": "done"}',
                                 '{"transfer": null}', '{"transfer": false}', "{" * 100_000, "[" * 1000 + "]" * 1000])
def test_no_transfer_asked(raw):
    assert load_handoff_data(raw) is None


def test_nested_transfer_with_top_level_reason_and_transcript():
    data = load_handoff_data(json.dumps({
        "transfer": {"to": "billing", "mode": "warm", "variables": {"vip": True, "n": 3}, "final": "false"},
        "reason": "refund", "transcript": [{"role": "caller", "text": "charged twice"}], "extra": {"a": 1}}))
    assert set(data) == KEYS
    assert data["to"] == "billing" and data["mode"] == "warm" and data["reason"] == "refund"
    assert data["variables"] == {"vip": "true", "n": "3"} and data["final"] is False and data["refer"] is False
    assert data["context"] == {"transcript": [{"role": "caller", "text": "charged twice"}]}
    TransferRequest(**data)                     # what the voice blueprint builds from it


def test_top_level_destination_is_an_alias_of_to():
    assert load_handoff_data('{"destination": "+14155550100;ext=12", "message": "One moment"}')["to"] == \
        "+14155550100;ext=12"
    assert load_handoff_data('{"to": "a", "destination": "b"}')["to"] == "a"


@pytest.mark.parametrize("spec, field", [
    ({"transfer": "billing"}, "transfer"),
    ({"transfer": {"reason": "no destination"}}, "to"),
    ({"to": "billing", "message": 42}, "message"),
    ({"to": "billing", "reason": {"why": "x"}}, "reason"),
    ({"to": "billing", "summary": ["a"]}, "summary"),
    ({"to": "billing", "mode": "lukewarm"}, "mode"),
    ({"to": "billing", "variables": {"a": {"nested": 1}}}, "variables"),
    ({"to": "billing", "variables": {f"v{i}": i for i in range(51)}}, "variables"),
    ({"to": "billing", "transcript": "caller: hi"}, "transcript"),
    ({"to": "billing", "transcript": [{"role": "caller"}]}, "transcript"),
    ({"to": "billing", "reason": "bad \ud800 surrogate"}, "reason"),
    ({"to": "billing\x00"}, "to"),
    ({"to": 14155550100}, "to"),
    ({"to": "billing", "final": "sometimes"}, "final"),
])
def test_a_transfer_with_bad_fields_names_them(spec, field):
    with pytest.raises(ValidationError) as err:
        load_handoff_data(json.dumps(spec))
    assert field in err.value.messages, err.value.messages


@fuzz_settings(300)
@given(st.one_of(json_values(), st.fixed_dictionaries({"transfer": json_values()}),
                 st.dictionaries(st.sampled_from(sorted(KEYS | {"destination", "transcript", "transfer"})),
                                 json_values(), max_size=8)))
def test_any_json_is_a_transfer_none_or_a_validation_error(value):
    _check(json.dumps(value))


@fuzz_settings(200)
@given(nasty_text())
def test_any_text_is_a_transfer_none_or_a_validation_error(raw):
    _check(raw)


def _check(raw: str) -> None:
    try:
        data = load_handoff_data(raw)
    except ValidationError as exc:
        assert isinstance(exc.messages, dict) and exc.messages
        return
    if data is not None:
        assert set(data) == KEYS and isinstance(data["to"], str)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in data["variables"].items())
        TransferRequest(**data)
