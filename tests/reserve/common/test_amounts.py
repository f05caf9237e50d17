"""BTC amount parsing: Decimal only, at most 8 decimals, within the supply."""

from decimal import Decimal

import pytest

from config.errors import ValidationFailed
from ledger.amounts import MAX_SATS
from reserve.common.amounts import btc_to_sats, sats_to_btc


@pytest.mark.parametrize(
    ("text", "sats"),
    [("0.1", 10_000_000), ("1", 100_000_000), ("0.00000001", 1), ("21000000", MAX_SATS), (" 2.5 ", 250_000_000)],
)
def test_btc_strings_become_exact_sats(text: str, sats: int) -> None:
    assert btc_to_sats(value=text, field="amount") == sats


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.000000001", "more than 8 decimal places"),
        ("abc", "is not a BTC amount"),
        ("0", "greater than zero"),
        ("-1", "greater than zero"),
        ("21000000.00000001", "exceeds the 21,000,000 BTC supply"),
        ("NaN", "is not a BTC amount"),
        (0.1, "never as a float"),
    ],
)
def test_bad_amounts_are_refused_naming_the_field(value: object, message: str) -> None:
    # when
    with pytest.raises(ValidationFailed) as caught:
        btc_to_sats(value=value, field="amount_btc")  # type: ignore[arg-type]
    # then
    assert list(caught.value.fields) == ["amount_btc"]
    assert message in caught.value.fields["amount_btc"][0]


def test_zero_fee_is_allowed_when_asked_and_round_trips() -> None:
    assert btc_to_sats(value="0", field="fee_btc", allow_zero=True) == 0
    assert sats_to_btc(123_456_789) == Decimal("1.23456789")
