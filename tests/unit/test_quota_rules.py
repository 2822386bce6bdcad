"""The quota arithmetic: shares, weights, waits (pure)."""

import pytest

from saleor_cryptopay.providers.quota import (
    BACKGROUND,
    CALLBACK,
    CHECKOUT,
    LIMITS,
    Window,
    allowance,
    scaled,
    wait_for,
)

MINUTE = Window("calls per minute", 60, 200)


def test_shares_leave_checkout_a_reserve():
    assert [allowance(MINUTE, p) for p in (CHECKOUT, CALLBACK, BACKGROUND)] == [200, 180, 160]
    # a partial setting keeps the other defaults
    assert allowance(MINUTE, CHECKOUT, {BACKGROUND: 0.5}) == 200
    assert allowance(MINUTE, BACKGROUND, {BACKGROUND: 0.5}) == 100
    assert allowance(MINUTE, BACKGROUND, {BACKGROUND: 0}) == 0


@pytest.mark.parametrize(
    ("calls", "allowed", "need", "wait"),
    [
        ([], 3, 1, 0.0),
        ([(10.0, 1), (20.0, 1)], 3, 1, 0.0),
        ([(10.0, 1), (20.0, 1), (30.0, 1)], 3, 1, 10.0),  # the oldest leaves at 70
        ([(10.0, 2), (20.0, 1)], 3, 1, 10.0),  # a booked creation counts twice
        ([(10.0, 1), (20.0, 1)], 3, 2, 10.0),  # a creation needs room for two
        ([(10.0, 1), (20.0, 1), (30.0, 1)], 3, 2, 20.0),
        ([(-5.0, 1), (20.0, 1), (30.0, 1)], 3, 1, 0.0),  # -5 is out of the window at 60
        ([], 1, 2, 60.0),  # can never fit
    ],
)
def test_wait_until_the_calls_fit(calls, allowed, need, wait):
    assert wait_for(Window("w", 60, 99), calls, allowed, 60.0, need) == pytest.approx(wait)


def test_limits_are_data_and_scale():
    windows = scaled(LIMITS["coinpay24"], 0.01)
    assert [(w.seconds, w.limit) for w in windows] == [(0.6, 200), (36.0, 1000), (36.0, 1000)]
    assert windows[2].counts("/invoices/create/") and not windows[2].counts("invoices/1001")
    assert LIMITS["coinpay_th"] == ()
