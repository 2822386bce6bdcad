from decimal import Decimal

import pytest

from saleor_cryptopay.money import MoneyError, format_amount, precision, quantize, to_decimal


@pytest.mark.parametrize(
    "currency,digits", [("USD", 2), ("usd", 2), ("JPY", 0), ("KWD", 3), ("BTC", 8), ("THB", 2)]
)
def test_precision(currency, digits):
    assert precision(currency) == digits


def test_float_goes_through_shortest_repr():
    assert to_decimal(0.1) == Decimal("0.1")
    assert to_decimal(0.00012345) == Decimal("0.00012345")


@pytest.mark.parametrize("bad", ["", "abc", "NaN", "Infinity", None, True, "1e999999999999"])
def test_bad_amounts(bad):
    with pytest.raises(MoneyError):
        to_decimal(bad)


def test_quantize_half_up_and_format():
    assert quantize("10.005", "USD") == Decimal("10.01")
    assert format_amount(Decimal("1E+2"), "USD") == "100.00"
    assert format_amount("1500.4", "JPY") == "1500"
    assert format_amount(Decimal("0.000123456789"), "BTC") == "0.00012346"
