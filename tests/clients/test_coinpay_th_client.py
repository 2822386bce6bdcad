"""CoinPay.in.th client against the sandbox over real HTTP on loopback."""

import logging
import multiprocessing
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from saleor_cryptopay.providers import PaymentStatus, ProviderError
from saleor_cryptopay.providers.coinpay_th import DOCS_ACTIONS, CoinPayThClient, OrderNotFound
from saleor_cryptopay.providers.dates import BANGKOK
from saleor_cryptopay.providers.nonce import FileNonce


def test_create_update_keeps_address(th):
    order = th.create_order(amount=Decimal("1000.00"), currency="THB", reference_id="ref-1")
    assert order.order_id > 0 and order.address and order.btc_amount > 0
    assert order.expire_minutes == 15 and order.qr_data
    updated = th.update_order(order.order_id, amount=Decimal("2000.00"), currency="THB")
    assert updated.order_id == order.order_id
    assert updated.address == order.address
    assert updated.btc_amount > order.btc_amount


def test_update_of_unknown_order_says_create_a_new_one(th):
    with pytest.raises(OrderNotFound):
        th.update_order(987654, amount=Decimal("10"), currency="THB")


@pytest.mark.parametrize(
    "action,status",
    [
        (None, PaymentStatus.WAITING),
        ("confirming", PaymentStatus.CONFIRMING),
        ("pay", PaymentStatus.PAID),
        ("overpay", PaymentStatus.OVERPAID),
        ("underpay", PaymentStatus.UNDERPAID),
        ("expire", PaymentStatus.EXPIRED),
        ("pay_late", PaymentStatus.PAID),
    ],
)
def test_check_order_each_status(th, sb, action, status):
    order = th.create_order(amount=Decimal("500"), currency="THB")
    if action:
        sb.act("coinpay_th", order.order_id, action)
    state = th.check_order(order.order_id)
    assert state.status is status
    assert state.order_amount == Decimal("500") and state.currency == "THB"
    assert state.date is not None and state.date.utcoffset() == timedelta(hours=7)


def test_check_unknown_order(th):
    with pytest.raises(OrderNotFound):
        th.check_order(424242)


def test_list_orders_with_filters(th, sb):
    a = th.create_order(amount=Decimal("100"), currency="THB")
    b = th.create_order(amount=Decimal("200"), currency="THB")
    sb.act("coinpay_th", b.order_id, "pay")
    every = {o.order_id for o in th.list_orders(status_ids=[0, 1, 2, 4, 5])}
    assert {a.order_id, b.order_id} <= every
    paid = th.list_orders(status_ids=[2])
    assert [o.order_id for o in paid] == [b.order_id]
    assert paid[0].btc_received == paid[0].btc_amount
    future = datetime.now(UTC) + timedelta(days=1)
    assert th.list_orders(start=future) == []


def test_reference_price_balance_address_paylink_validate(th):
    order = th.create_order(amount=Decimal("100"), currency="THB")
    th.save_reference(order.order_id, "saleor-123")
    assert th.check_order(order.order_id).reference_id == "saleor-123"
    value, currency = th.price(currency="USD", amount=Decimal("100"))
    assert currency == "BTC" and value > 0
    assert th.balance()
    assert th.address()
    assert th.paylink(amount=Decimal("50"), currency="THB").startswith("http")
    assert th.validate(amount=Decimal("50"), currency="THB") == (True, None)


def test_ipn_verification(th, sb):
    order = th.create_order(amount=Decimal("100"), currency="THB", ipn="http://127.0.0.1:9/ipn")
    sb.act("coinpay_th", order.order_id, "pay")
    (delivery, *_) = sb.callbacks("coinpay_th", order.order_id)
    fields = dict(delivery["fields"])
    assert th.verify_ipn(fields["order_id"], fields["verify"])
    assert not th.verify_ipn(fields["order_id"], "forged")
    assert not th.verify_ipn(fields["order_id"], "")
    assert not th.verify_ipn(str(order.order_id + 1), fields["verify"])


def test_bad_secret_is_rejected(sb):
    client = CoinPayThClient(sb.coinpay_th_key, "wrong-secret", base_url=sb.coinpay_th_base)
    with pytest.raises(ProviderError) as err:
        client.balance()
    assert err.value.status_code == 401 and not err.value.retryable
    assert "wrong-secret" not in str(err.value)


class _Replay:
    """A nonce source that repeats itself: the provider must refuse it."""

    def __init__(self):
        self.value = 10**15

    def next(self):
        return self.value


def test_reused_nonce_is_refused(sb):
    client = CoinPayThClient(
        sb.coinpay_th_key, sb.coinpay_th_secret, base_url=sb.coinpay_th_base, nonce_source=_Replay()
    )
    client.balance()
    with pytest.raises(ProviderError) as err:
        client.balance()
    assert err.value.code == "nonce" and err.value.retryable


def test_docs_action_names_and_multipart(sb):
    client = CoinPayThClient(
        sb.coinpay_th_key,
        sb.coinpay_th_secret,
        base_url=sb.coinpay_th_base,
        actions=DOCS_ACTIONS,
        multipart=True,
    )
    order = client.create_order(amount=Decimal("10"), currency="THB")
    assert client.check_order(order.order_id).status is PaymentStatus.WAITING
    counts = sb.request_counts()["coinpay_th"]
    assert counts.get("create") == 1 and counts.get("check") == 1


def test_unknown_operation_name_is_refused():
    with pytest.raises(ValueError):
        CoinPayThClient("k", "s", actions={"frobnicate": "x"})


def test_failures_are_retryable(th, sb):
    sb.inject_fault("coinpay_th", "status", count=1, status=502)
    with pytest.raises(ProviderError) as err:
        th.balance()
    assert err.value.retryable and err.value.status_code == 502
    sb.inject_fault("coinpay_th", "rate_limit", count=1, retry_after=3)
    with pytest.raises(ProviderError) as err:
        th.balance()
    assert err.value.status_code == 429 and err.value.retry_after == 3
    assert th.balance()


def test_no_secret_in_logs(sb, caplog):
    caplog.set_level(logging.DEBUG)
    client = CoinPayThClient(sb.coinpay_th_key, sb.coinpay_th_secret, base_url=sb.coinpay_th_base)
    client.balance()
    assert sb.coinpay_th_secret not in caplog.text
    assert sb.coinpay_th_secret not in repr(client)


def test_dates_are_bangkok_time(th):
    order = th.create_order(amount=Decimal("100"), currency="THB")
    state = th.check_order(order.order_id)
    assert abs(state.date - datetime.now(BANGKOK)) < timedelta(minutes=5)


# -- several processes sharing one key -------------------------------------

CALLS_PER_PROCESS = 40


def _worker(base_url, key, secret, nonce_path, queue):
    client = CoinPayThClient(key, secret, base_url=base_url, nonce_source=FileNonce(nonce_path))
    ok = 0
    for _ in range(CALLS_PER_PROCESS):
        client.balance()
        ok += 1
    queue.put(ok)


@pytest.mark.slow
def test_processes_sharing_a_key_never_trip_the_nonce_check(sb, tmp_path):
    """Four processes hammer the sandbox with one key; the sandbox refuses any
    nonce not above the last accepted one. Every call must succeed (with the
    client's fresh-nonce retry absorbing arrival reordering)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    args = (sb.coinpay_th_base, sb.coinpay_th_key, sb.coinpay_th_secret, tmp_path / "nonce", queue)
    procs = [ctx.Process(target=_worker, args=args) for _ in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert results == [CALLS_PER_PROCESS] * 4
    assert sb.request_counts()["coinpay_th"]["balance"] >= 4 * CALLS_PER_PROCESS
