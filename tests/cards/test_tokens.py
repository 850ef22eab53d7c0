"""The card link's token and the recipients file's card settings (no service needed)."""
from __future__ import annotations

import string

import pytest

from handoff.card_tokens import CardClaim, card_key, sign, verify
from handoff.routing import RoutingError
from handoff.routing.loader import parse_config

KEY = card_key("a-secret-key-of-some-length", "auth-token")
TRANSFER, LEG = "tr_" + "0123456789ab" * 2, "CA" + "fedcba9876543210" * 2


def test_a_token_carries_the_transfer_the_leg_and_the_expiry_and_fits_an_sms():
    token = sign(KEY, TRANSFER, LEG, 1_900_000_000)
    assert verify(KEY, token) == CardClaim(TRANSFER, LEG, 1_900_000_000)
    assert len(token) <= 70 and set(token) <= set(string.ascii_letters + string.digits + "-_")


def test_any_change_to_a_token_or_another_key_is_not_a_token():
    token = sign(KEY, TRANSFER, LEG, 1_900_000_000)
    for i in range(len(token)):
        for c in "AQgw_-9":
            if c != token[i]:
                assert verify(KEY, token[:i] + c + token[i + 1:]) is None, (i, c)
    assert verify(card_key("another-secret-key-here", "auth-token"), token) is None
    assert verify(card_key(None, "auth-token"), token) is None
    for junk in ("", "x", "garbage!", "%2e%2e", token[:-1], token + "A", "A" * 401):
        assert verify(KEY, junk) is None


def test_without_secret_key_the_key_comes_from_the_auth_token():
    assert card_key(None, "token-1") == card_key(None, "token-1") != card_key(None, "token-2")
    assert card_key(None, "token-1") != b"token-1"


def test_ids_of_another_shape_still_round_trip():
    token = sign(KEY, "tr_other", "CAshort", 5)
    assert verify(KEY, token) == CardClaim("tr_other", "CAshort", 5)


RECIPIENTS = """
version: 1
recipients:
  - name: desk
    type: sip
    sip: {{uri: "sip:desk@pbx.example.com"}}
    delivery: {{card: true, card_to: "{card_to}"}}
"""


def test_the_recipients_file_takes_card_and_a_mobile_to_send_it_to():
    config = parse_config(RECIPIENTS.format(card_to="+1 (415) 555-0199"))
    assert config.recipients["desk"].delivery == {"card": True, "card_to": "+14155550199"}
    with pytest.raises(RoutingError) as err:
        parse_config(RECIPIENTS.format(card_to="sip:me@example.com"))
    assert "card_to" in str(err.value)
