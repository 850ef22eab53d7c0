import pytest

from handoff.routing import RoutingError

from .conftest import MONDAY_10


def test_precedence_request_over_call_over_recipient_over_file(router):
    # queue: only in request/call; region: file-level; ext: recipient-level
    plan = router.plan("spanish", variables={"queue": "req", "account_id": "1"},
                       call_variables={"queue": "call"}, now=MONDAY_10)
    assert plan.steps[0].targets[0].address == "sip:req@pbx.example.com"
    plan = router.plan("spanish", variables={"account_id": "1"}, call_variables={"queue": "call"}, now=MONDAY_10)
    assert plan.steps[0].targets[0].address == "sip:call@pbx.example.com"


def test_recipient_fixed_value_and_override_for_extension(router):
    t = router.plan("desk", variables={}).steps[0].targets[0]
    assert t.send_digits == "ww42"
    t = router.plan("desk", variables={}, call_variables={"ext": "7"}).steps[0].targets[0]
    assert t.send_digits == "ww7"
    t = router.plan("desk", variables={"ext": "w99"}).steps[0].targets[0]
    assert t.send_digits == "w99"


def test_file_level_fixed_value_in_summary(router):
    plan = router.plan("billing", variables={"account_id": "A1"}, now=MONDAY_10)
    assert plan.settings.summary_prompt == "Summarise for Acme"
    plan = router.plan("billing", variables={"account_id": "A1", "company": "Other"}, now=MONDAY_10)
    assert plan.settings.summary_prompt == "Summarise for Other"


def test_unbound_placeholder_names_it(router):
    with pytest.raises(RoutingError) as err:
        router.plan("spanish", variables={"account_id": "1"})
    assert err.value.field == "variables.queue"
    assert "<queue>" in err.value.message and "not bound" in err.value.message
    with pytest.raises(RoutingError) as err:
        router.plan("spanish", variables={"queue": "q"})
    assert err.value.field == "variables.account_id"       # a SIP header value
    with pytest.raises(RoutingError) as err:
        router.plan("billing", variables={}, now=MONDAY_10)   # the whisper
    assert err.value.field == "variables.account_id"


def test_values_cannot_redirect_an_address(router):
    with pytest.raises(RoutingError) as err:
        router.plan("spanish", variables={"queue": "x@evil.example.com;", "account_id": "1"})
    assert err.value.field == "variables.queue"
    with pytest.raises(RoutingError):
        router.plan("desk", variables={"ext": "1;rm"})


def test_templated_number_checked_after_substitution(router):
    t = router.plan("templated", variables={"line": "0142"}).steps[0].targets[0]
    assert t.address == "+16285550142"
    with pytest.raises(RoutingError) as err:
        router.plan("templated", variables={"line": "01"})
    assert err.value.field == "variables.line" and "number" in err.value.message


def test_templated_number_outside_allowed_prefixes_is_refused(write):
    from handoff.destinations import AllowList
    from handoff.routing import load_router
    path = write("""
        recipients:
          - {name: cb, type: number, number: "<callback>"}
    """)
    router = load_router(path, AllowList.parse("+1415"))
    assert router.plan("cb", variables={"callback": "+14155550100"}).steps[0].targets[0].address == "+14155550100"
    with pytest.raises(RoutingError) as err:
        router.plan("cb", variables={"callback": "+442071838750"})
    assert err.value.field == "variables.callback" and "refused" in err.value.message


def test_booleans_and_numbers_are_text(router):
    plan = router.plan("auto", variables={"vip": True}, now=MONDAY_10)
    assert plan.steps[0].parallel
