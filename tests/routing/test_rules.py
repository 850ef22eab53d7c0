import pytest

from handoff.routing import RoutingError
from handoff.targets import LastResort, TargetKind

from .conftest import MONDAY_10, ny


def addresses(plan):
    return [[t.address for t in s.targets] or [f"dynamic:{s.dynamic}"] for s in plan.steps]


def test_equals_condition_routes_to_parallel_group(router):
    plan = router.plan("auto", variables={"vip": "TRUE"}, now=MONDAY_10)
    assert len(plan.steps) >= 1
    step = plan.steps[0]
    assert step.parallel and [t.recipient for t in step.targets] == ["alice", "bob"]
    assert plan.settings.timeout == 25          # group delivery
    assert any("rule 'vip' matched" in r for r in plan.reasons)


def test_in_condition(router):
    plan = router.plan("auto", variables={"language": "es-mx", "account_id": "A1", "queue": "q7"}, now=MONDAY_10)
    t = plan.steps[0].targets[0]
    assert t.kind is TargetKind.SIP and t.address == "sip:q7@pbx.example.com"
    assert t.sip_headers == (("X-Account", "A1"),)
    assert (t.sip_username, t.sip_password) == ("u", "s3cret")


def test_matches_condition_needs_full_match(router):
    plan = router.plan("auto", variables={"account_id": "A123", "intent": "billing"}, now=MONDAY_10)
    assert plan.steps[0].targets[0].recipient == "billing"
    plan = router.plan("auto", variables={"account_id": "A1234", "intent": "billing"}, now=MONDAY_10)
    assert plan.steps[0].targets[0].recipient != "billing"    # no full match -> falls through


def test_caller_country_from_request_or_call_variables(router):
    plan = router.plan("auto", variables={"caller": "+442071838750"}, now=MONDAY_10)
    assert plan.steps[0].targets[0].address == "client:supervisor"
    plan = router.plan("auto", variables={}, call_variables={"from": "+442071838750"}, now=MONDAY_10)
    assert plan.steps[0].targets[0].address == "client:supervisor"
    plan = router.plan("auto", variables={"caller": "+14155551234"}, now=MONDAY_10)
    assert plan.steps[0].targets[0].address != "client:supervisor"


def test_time_window_rule_matches_only_inside_window(router):
    night = router.plan("auto", variables={}, now=ny(2026, 3, 9, 23, 0))
    assert any("rotation 'oncall'" in r for r in night.reasons)
    day = router.plan("auto", variables={}, now=MONDAY_10)
    assert not any("rotation 'oncall'" in r for r in day.reasons)


def test_no_rule_matches_uses_file_fallback_sequential_group(router):
    plan = router.plan("auto", variables={}, now=MONDAY_10)
    assert addresses(plan) == [["+14155550121"], ["+14155550122"], ["+14155550199"]]
    assert not any(s.parallel for s in plan.steps)
    assert "no rule matched" in plan.reasons[0]


def test_closed_hours_lead_to_rule_fallback(router):
    plan = router.plan("auto", variables={"account_id": "A123", "intent": "billing"}, now=ny(2026, 3, 7, 10, 0))
    assert addresses(plan) == [["+14155550199"]]
    assert any("closed" in r and "outside weekly windows" in r for r in plan.reasons)


def test_open_rule_appends_recipient_and_rule_fallbacks_with_retries(router):
    plan = router.plan("auto", variables={"account_id": "A123", "intent": "billing"}, now=MONDAY_10)
    assert addresses(plan) == [["+14155550100"], ["+14155550199"]]
    first, fallback = plan.steps
    assert (first.retries, first.retry_interval) == (2, 3.0)
    assert fallback.retries == 0            # a fallback does not inherit billing's settings
    s = plan.settings
    assert s.mode == "warm" and s.timeout == 15 and s.last_resort is LastResort.VOICEMAIL
    assert s.whisper == "Billing: A123 <reason>"      # runtime placeholder kept for the service
    assert s.summary_prompt == "Summarise for Acme"


def test_named_rule_skips_conditions(router):
    plan = router.plan("acct", variables={"account_id": "x"}, now=MONDAY_10)
    assert plan.steps[0].targets[0].recipient == "billing"


def test_named_recipient_and_mode_override(router):
    plan = router.plan("billing", variables={"account_id": "A1"}, now=MONDAY_10, mode="cold")
    assert plan.settings.mode == "cold"
    with pytest.raises(RoutingError) as err:
        router.plan("billing", variables={}, now=MONDAY_10, mode="loud")
    assert err.value.field == "mode"


def test_other_target_kinds(router):
    assert router.plan("console", variables={}).steps[0].targets[0].kind is TargetKind.CLIENT
    bot = router.plan("bot", variables={}).steps[0].targets[0]
    assert bot.kind is TargetKind.AGENT and bot.address == "wss://agents.example.com/retention"


def test_rotation_resolves_current_member(router):
    plan = router.plan("oncall", variables={}, now=ny(2026, 3, 9, 10, 0))   # week 9 -> alice? check parity
    member = plan.steps[0].targets[0].recipient
    # 2026-01-05 is shift 0 (alice); 2026-03-09 09:00 starts shift 9 -> bob
    assert member == "bob"
    assert router.plan("oncall", variables={}, now=ny(2026, 3, 9, 8, 59)).steps[0].targets[0].recipient == "alice"
    # dated override
    assert router.plan("oncall", variables={}, now=ny(2026, 3, 18, 12)).steps[0].targets[0].recipient == "alice"
    assert router.plan("oncall", variables={}, now=ny(2026, 3, 11, 12)).steps[0].targets[0].recipient == "bob"


def test_raw_number_allowed_and_refused(router):
    plan = router.plan("+14155551234", variables={})
    assert plan.steps[0].targets[0].address == "+14155551234"
    with pytest.raises(RoutingError) as err:
        router.plan("+525512345678", variables={})
    assert err.value.field == "to" and "refused" in err.value.message
    with pytest.raises(RoutingError) as err:
        router.plan("sip:anyone@evil.example.com", variables={})
    assert err.value.field == "to"


def test_unknown_destination(router):
    with pytest.raises(RoutingError) as err:
        router.plan("nobody", variables={})
    assert err.value.field == "to" and "'nobody'" in err.value.message
    with pytest.raises(RoutingError):
        router.plan("  ", variables={})


def test_no_fallback_means_last_resort(write):
    from handoff.destinations import AllowList
    from handoff.routing import load_router
    path = write("""
        recipients:
          - {name: a, type: number, number: "+14155550100"}
        rules:
          - {name: r, when: {intent: x}, to: a}
    """)
    router = load_router(path, AllowList())
    plan = router.plan("auto", variables={})
    assert plan.steps == () and any("last resort" in r for r in plan.reasons)


def test_a_plan_with_nobody_open_follows_the_delivery_of_what_was_asked_for(write):
    """Everyone closed: the recipient's (or the rule's) own last resort applies, not only the defaults'."""
    from handoff.destinations import AllowList
    from handoff.routing import load_router

    router = load_router(write("""
        hours:
          office: {timezone: America/New_York, weekly: [{days: mon-fri, from: "09:00", to: "17:00"}]}
        defaults: {mode: warm}
        recipients:
          - name: sales_line
            type: number
            number: "+14155550150"
            hours: office
            delivery: {last_resort: callback, callback_sms: "We'll call you back about <reason>."}
          - {name: desk, type: number, number: "+14155550151"}
        rules:
          - {name: after_hours_sales, hours: office, to: desk, delivery: {last_resort: callback}}
    """), AllowList.parse("+1"))
    sunday_night = ny(2026, 3, 8, 22, 0)
    plan = router.plan("sales_line", variables={}, now=sunday_night)
    assert plan.steps == () and plan.settings.last_resort is LastResort.CALLBACK
    assert plan.settings.callback_sms == "We'll call you back about <reason>."    # filled when sent
    rule = router.plan("after_hours_sales", variables={}, now=sunday_night)
    assert rule.steps == () and rule.settings.last_resort is LastResort.CALLBACK
    assert router.plan("sales_line", variables={}, now=MONDAY_10).settings.last_resort is LastResort.CALLBACK
