"""How expectations read what happened: paths with retries and parallel groups, heard items in order,
and `nothing` (heard nothing about the caller)."""
from __future__ import annotations

from devtools.scenarios.expect import heard_problem, path_matches


def step(*names):
    return [{name} for name in names]


def test_a_path_lists_recipients_in_order_and_a_retry_may_be_left_out():
    dialed = [step("billing_desk"), step("billing_desk"), step("billing_voicemail")]
    assert path_matches(["billing_desk", "billing_voicemail"], dialed)
    assert path_matches(["billing_desk", "billing_desk", "billing_voicemail"], dialed)
    assert not path_matches(["billing_voicemail", "billing_desk"], dialed)
    assert not path_matches(["billing_desk"], dialed)


def test_a_parallel_group_matches_in_any_order_and_a_target_by_name_or_address():
    dialed = [[{"alice", "+14155550111"}, {"bob", "+14155550122"}], step("front_desk")]
    assert path_matches([["bob", "alice"], "front_desk"], dialed)
    assert path_matches([["+14155550122", "alice"], "front_desk"], dialed)
    assert not path_matches(["alice", "bob", "front_desk"], dialed)
    assert not path_matches([["alice"], "front_desk"], dialed)


def test_heard_items_are_found_in_order_texts_as_substrings_in_any_case():
    heard = [{"kind": "say", "text": "Please hold while I connect you."}, {"kind": "music"}, {"kind": "music"},
             {"kind": "say", "text": "Billing call about account A123456: a refund."}, {"kind": "conference"}]
    assert heard_problem(["please HOLD", "music", "account a123456", "refund", "bridged"], heard) is None
    problem = heard_problem(["bridged", "music"], heard)
    assert problem.startswith("expected 'music' after 'bridged'; heard say \"Please hold")
    assert "music x2" in problem


def test_nothing_means_nothing_about_the_caller():
    whisper = "Billing call about account A123456."
    kept_out = [{"kind": "silence", "detection": "Enable"},
                {"kind": "say", "text": "You have a transferred call. Press 1 to hear it."}]
    assert heard_problem("nothing", [], [whisper]) is None
    assert heard_problem("nothing", kept_out, [whisper]) is None
    told = kept_out + [{"kind": "say", "text": whisper}]
    assert heard_problem("nothing", told, [whisper]) == f'expected nothing, heard say "{whisper}"'
    assert heard_problem("nothing", [{"kind": "bridged"}], [whisper]) == "expected nothing, heard bridged"
