"""handoff.placeholders: the one fill() the engine uses for whisper, message and summary prompt."""
from handoff.placeholders import RUNTIME_PLACEHOLDERS, fill, runtime_values, transcript_text
from handoff.routing.variables import RUNTIME_PLACEHOLDERS as ROUTING_RUNTIME

CALL = {"from": "+14155550100", "to": "+15005550006"}
TRANSCRIPT = [{"role": "caller", "text": "I was charged twice."}, {"role": "agent", "text": "Let me check."}]


def test_every_runtime_placeholder_is_filled():
    values = runtime_values(call=CALL, call_sid="CA" + "1" * 32, reason="double charge", summary="Refund due.",
                            variables={"account_id": "A1"}, recipient="billing_desk", transcript=TRANSCRIPT)
    assert set(values) >= RUNTIME_PLACEHOLDERS and ROUTING_RUNTIME is RUNTIME_PLACEHOLDERS
    text = fill("<caller_name> (<caller>) about <reason> for <recipient>; <summary> <account_id> <call_sid>", values)
    assert text == f"the caller (+14155550100) about double charge for billing desk; Refund due. A1 CA{'1' * 32}"
    assert fill("<transcript>", values) == "caller: I was charged twice.\nagent: Let me check."
    assert fill("<agent>", values) == "the AI assistant"


def test_variables_win_and_request_variables_beat_the_calls():
    values = runtime_values(call=CALL, variables={"caller_name": "Ada", "tier": "gold"},
                            call_variables={"tier": "silver", "vip": True})
    assert fill("<caller_name> <tier> <vip>", values) == "Ada gold true"


def test_unknown_placeholders_stay_and_values_are_not_expanded_twice():
    values = runtime_values(reason="<summary>", summary="secret")
    assert fill("<reason> <nope>", values) == "<summary> <nope>"
    assert fill("", values) == "" and fill("no placeholders", values) == "no placeholders"


def test_defaults_when_nothing_is_known():
    values = runtime_values()
    assert fill("<caller> <reason> <summary>|<transcript>|", values) == "an unknown number not given |<transcript>|" \
        .replace("<transcript>", "")


def test_long_transcripts_keep_their_end():
    turns = [{"role": "caller", "text": f"turn {i}"} for i in range(2000)]
    text = transcript_text(turns, limit=100)
    assert len(text) == 101 and text.endswith("caller: turn 1999") and text.startswith("…")
    assert transcript_text([{"text": "  spaced\n out  "}, "junk", {"role": "agent"}]) == "caller: spaced out"
