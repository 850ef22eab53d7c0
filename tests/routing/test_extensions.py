"""Extensions written in a number are dialed as send_digits, or refused: never silently dropped."""
import pytest

from handoff.destinations import AllowList, DestinationError, parse_e164, parse_number, parse_raw_target
from handoff.routing import RoutingError, load_router

ALLOW = AllowList.parse("+1415")


@pytest.mark.parametrize("written, extension", [
    ("+14155550100,1234", "1234"), ("+14155550100,,1234", "1234"), ("+14155550100;ext=99", "99"),
    ("+14155550100 x 77", "77"), ("+14155550100x77", "77"), ("+14155550100 ext. 12", "12"),
    ("+14155550100 EXT 12", "12"), ("+14155550100 extension 5", "5"), ("+14155550100#55", "55"),
    ("+1 (415) 555-0100 x 77#", "77#"), ("+1 415 555 0100", None),
])
def test_extension_notations(written, extension):
    assert parse_number(written) == ("+14155550100", extension)


@pytest.mark.parametrize("written, words", [
    ("+14155550100 x", "no digits"), ("+14155550100;ext=", "no digits"), ("+14155550100 #", "no digits"),
    ("+14155550100*9", "E.164"), ("+14155550100 hello", "E.164"), ("+1800FLOWERS", "E.164"),
    ("+14155550100ww12", "E.164"), ("tel:+14155550100", "E.164"), ("", "E.164"),
])
def test_what_cannot_be_read_is_refused(written, words):
    with pytest.raises(DestinationError) as err:
        parse_number(written)
    assert words in err.value.reason


def test_raw_number_with_an_extension_dials_it_after_answer():
    target = parse_raw_target("+14155550100;ext=1234", ALLOW)
    assert target.address == "+14155550100" and target.send_digits == "ww1234"
    assert parse_raw_target("+14155550100", ALLOW).send_digits is None


def test_a_caller_id_never_has_an_extension():
    with pytest.raises(DestinationError, match="extension is not allowed"):
        parse_e164("+14155550100 x 12")


def test_raw_number_in_a_plan_and_explain(router):
    plan = router.plan("+14155550100 ext. 42", variables={})
    target = plan.steps[0].targets[0]
    assert (target.address, target.send_digits) == ("+14155550100", "ww42")
    out = router.explain(variables={}, to="+14155550100,42")
    assert out["recipients"][0]["send_digits"] == "ww42" and out["steps"][0]["targets"][0]["send_digits"] == "ww42"
    with pytest.raises(RoutingError) as err:
        router.plan("+14155550100 x", variables={})
    assert err.value.field == "to" and "no digits" in err.value.message


def test_recipient_number_with_an_extension(write):
    router = load_router(write("""
        recipients:
          - {name: desk, type: number, number: "+14155550140;ext=204"}
          - {name: ivr, type: number, number: "+14155550141 x 9#"}
    """))
    assert router.config.recipients["desk"].number == "+14155550140"
    assert router.plan("desk", variables={}).steps[0].targets[0].send_digits == "ww204"
    assert router.plan("ivr", variables={}).steps[0].targets[0].send_digits == "ww9#"
    assert router.recipients()[0]["extension"] == "204"


@pytest.mark.parametrize("entry, words", [
    ('{name: d, type: number, number: "+14155550140;ext=204", extension: "205"}', "give it once"),
    ('{name: d, type: number, number: "+14155550140 x"}', "no digits"),
    ('{name: d, type: number, number: "+14155550140*9"}', "E.164"),
])
def test_recipient_number_extension_errors(write, entry, words):
    with pytest.raises(RoutingError) as err:
        load_router(write(f"recipients:\n  - {entry}\n"))
    assert words in err.value.message and "recipients[0] 'd'" in err.value.message
