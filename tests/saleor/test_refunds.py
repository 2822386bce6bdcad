"""Refunds end to end on a real Saleor: Dashboard GraphQL (orderRefund,
paymentRefund, orderFulfillmentRefundProducts) -> refund request
(REFUND_ONGOING) -> claim link -> payout queue against the sandbox's iCoinPay
-> REFUND in Saleor's books."""

import inspect
import json
import logging
from dataclasses import replace
from decimal import Decimal
from io import StringIO
from urllib.parse import urlsplit

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from saleor.graphql.core.utils import to_global_id_or_none  # noqa: E402
from saleor.graphql.tests.fixtures import ApiClient  # noqa: E402
from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402
from saleor.order import OrderEvents  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import ChargeStatus, TransactionKind  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402
from saleor.payment.utils import create_payment_information  # noqa: E402
from saleor.plugins.manager import get_plugins_manager  # noqa: E402

from saleor_cryptopay.models import Invoice, RefundRequest, StaffTask  # noqa: E402
from saleor_cryptopay.plugin.refunds import REFUNDS_KEY  # noqa: E402

from .flow import complete, confirmation, create_payment, deliver, order_messages  # noqa: E402

pytestmark = pytest.mark.django_db

BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
S = RefundRequest.Status

ORDER_REFUND = """
mutation Refund($id: ID!, $amount: PositiveDecimal!) {
  orderRefund(id: $id, amount: $amount) {
    order { id paymentStatus isPaid }
    errors { field code message }
  }
}
"""

PAYMENT_REFUND = """
mutation Refund($id: ID!, $amount: PositiveDecimal) {
  paymentRefund(paymentId: $id, amount: $amount) {
    payment { id chargeStatus capturedAmount { amount } }
    errors { field code message }
  }
}
"""


REFUND_PRODUCTS = """
mutation Refund($id: ID!, $input: OrderRefundProductsInput!) {
  orderFulfillmentRefundProducts(order: $id, input: $input) {
    fulfillment { id status }
    errors { field code message }
  }
}
"""


@pytest.fixture
def staff(staff_api_client, permission_group_manage_orders):
    permission_group_manage_orders.user_set.add(staff_api_client.user)
    return staff_api_client


@pytest.fixture
def refunding_gateway(configure_gateway, sb):
    def configure(provider, **values):
        return configure_gateway(
            provider,
            icoinpay_api_key=sb.icoinpay_api_key,
            icoinpay_api_base_url=sb.icoinpay_base,
            **values,
        )

    return configure


def paid_order(api_client, checkout, plugin, total, sb, provider):
    create_payment(api_client, checkout, plugin.PLUGIN_ID, total)
    data = confirmation(complete(api_client, checkout))
    sb.act(provider, data["invoice_id"], "pay")
    assert deliver(Client(), sb, provider, data["invoice_id"], plugin.PLUGIN_ID).status_code == 200
    order = Order.objects.get(checkout_token=checkout.token)
    return order, Payment.objects.get(order=order)


def order_refund(staff, order, amount) -> dict:
    variables = {"id": to_global_id_or_none(order), "amount": str(amount)}
    return get_graphql_content(staff.post_graphql(ORDER_REFUND, variables))["data"]["orderRefund"]


def payment_refund(staff, payment, amount) -> dict:
    variables = {"id": to_global_id_or_none(payment), "amount": str(amount)}
    content = get_graphql_content(staff.post_graphql(PAYMENT_REFUND, variables))
    return content["data"]["paymentRefund"]


def refund_products(staff, order, amount) -> dict:
    """The Dashboard's "Refund products" on the order's unfulfilled lines."""
    lines = [
        {"orderLineId": to_global_id_or_none(line), "quantity": line.quantity}
        for line in order.lines.all()
    ]
    variables = {
        "id": to_global_id_or_none(order),
        "input": {"orderLines": lines, "amountToRefund": str(amount)},
    }
    content = get_graphql_content(staff.post_graphql(REFUND_PRODUCTS, variables))
    return content["data"]["orderFulfillmentRefundProducts"]


def metadata(order) -> dict:
    order.refresh_from_db()
    raw = order.private_metadata[REFUNDS_KEY]
    assert isinstance(raw, str)  # JSON text, not a Python repr
    return json.loads(raw)


@pytest.fixture
def payouts(django_capture_on_commit_callbacks):
    """cryptopay_payouts as a worker runs it (Saleor's order events fire on commit)."""

    def run() -> str:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("cryptopay_payouts", stdout=out)
        return out.getvalue()

    return run


@pytest.fixture
def command(django_capture_on_commit_callbacks):
    def run(*args) -> str:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("cryptopay_refunds", *args, stdout=out)
        return out.getvalue()

    return run


@pytest.mark.parametrize("provider", ["coinpay24", "coinpay_th"])
def test_full_refund_through_the_claim_link_and_the_payout_queue(
    provider,
    refunding_gateway,
    api_client,
    staff,
    ready_checkout,
    checkout_total,
    sb,
    payouts,
    command,
):
    plugin = refunding_gateway(provider)
    order, payment = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, provider
    )
    total = payment.total

    result = order_refund(staff, order, total)
    assert result["errors"] == []
    payment.refresh_from_db()
    # ongoing, never done: nothing is taken off the capture yet
    assert payment.captured_amount == total and payment.charge_status == ChargeStatus.FULLY_CHARGED
    ongoing = payment.transactions.get(kind=TransactionKind.REFUND_ONGOING)
    assert ongoing.is_success and ongoing.amount == total
    refund = RefundRequest.objects.get()
    invoice = Invoice.objects.get(payment_id=payment.pk)
    assert refund.status == S.AWAITING_ADDRESS and refund.amount == total
    assert refund.coin == "BTC" and refund.crypto_amount == invoice.pay_amount
    entry = metadata(order)[str(refund.pk)]
    assert entry["status"] == "awaiting_address" and entry["crypto_amount"]
    link = entry["claim_url"]
    assert any(link in m for m in order_messages(order))

    # the shopper opens the link and gives an address
    path = urlsplit(link).path
    page = Client().get(path)
    assert page.status_code == 200 and refund.coin in page.content.decode()
    assert Client().post(path, {"address": BTC}).status_code == 200
    refund.refresh_from_db()
    assert refund.status == S.QUEUED and refund.address == BTC
    assert "claim_url" not in metadata(order)[str(refund.pk)]
    assert Client().get(path).status_code == 410  # single use

    assert "sent" in payouts()
    (sent,) = sb.payouts()
    assert sent["to"] == BTC and sent["amount"] == int(refund.crypto_amount * 10**8)
    refund.refresh_from_db()
    assert refund.status == S.SENT and refund.payout_id == str(sent["id"])
    payment.refresh_from_db()
    assert payment.charge_status == ChargeStatus.FULLY_REFUNDED and payment.captured_amount == 0
    refund_txn = payment.transactions.get(kind=TransactionKind.REFUND)
    assert refund_txn.amount == total and refund_txn.is_success
    assert order.events.filter(type=OrderEvents.PAYMENT_REFUNDED).count() == 1
    assert any(f"payout {refund.payout_id}" in m for m in order_messages(order))
    assert metadata(order)[str(refund.pk)]["payout_id"] == refund.payout_id

    payouts()  # a second run changes nothing
    assert len(sb.payouts()) == 1
    assert payment.transactions.filter(kind=TransactionKind.REFUND).count() == 1


def test_partial_refunds_add_up_and_never_exceed_the_capture(
    refunding_gateway, api_client, staff, ready_checkout, checkout_total, sb, payouts, command
):
    plugin = refunding_gateway("coinpay24")
    order, payment = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay24"
    )
    total = payment.total
    first = (total * Decimal("0.4")).quantize(Decimal("0.01"))
    assert payment_refund(staff, payment, first)["errors"] == []
    assert order_refund(staff, order, total - first)["errors"] == []
    # Saleor's own check passes (an ongoing refund keeps the capture); ours refuses
    over = payment_refund(staff, payment, Decimal("0.01"))
    assert over["errors"] and "only 0.00 USD" in over["errors"][0]["message"]
    assert RefundRequest.objects.count() == 2

    a, b = RefundRequest.objects.order_by("pk")
    assert a.crypto_amount + b.crypto_amount <= Invoice.objects.get().pay_amount
    command("--address", str(a.pk), BTC)
    payouts()
    payment.refresh_from_db()
    assert payment.charge_status == ChargeStatus.PARTIALLY_REFUNDED
    assert payment.captured_amount == total - first
    command("--address", str(b.pk), BTC)
    payouts()
    payment.refresh_from_db()
    assert payment.charge_status == ChargeStatus.FULLY_REFUNDED
    assert len(sb.payouts()) == 2
    assert order.events.filter(type=OrderEvents.PAYMENT_REFUNDED).count() == 2


def test_insufficient_funds_is_shown_and_retried(
    refunding_gateway, api_client, staff, ready_checkout, checkout_total, sb, payouts, command
):
    plugin = refunding_gateway("coinpay_th")
    order, payment = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay_th"
    )
    order_refund(staff, order, payment.total)
    refund = RefundRequest.objects.get()
    command("--address", str(refund.pk), BTC)
    sb.set_wallet(balance=1)
    assert "refused" in payouts()
    refund.refresh_from_db()
    assert refund.status == S.FAILED
    assert any("insufficient funds" in m.lower() for m in order_messages(order))
    assert "insufficient funds" in metadata(order)[str(refund.pk)]["refused_reason"].lower()
    payment.refresh_from_db()
    assert payment.charge_status == ChargeStatus.FULLY_CHARGED

    sb.set_wallet(balance=10**8)
    command("--retry", str(refund.pk))
    assert "sent" in payouts()
    payment.refresh_from_db()
    assert payment.charge_status == ChargeStatus.FULLY_REFUNDED
    assert "refused_reason" not in metadata(order)[str(refund.pk)]


def test_a_lost_answer_is_not_paid_twice_and_staff_record_it(
    refunding_gateway, api_client, staff, ready_checkout, checkout_total, sb, payouts, command
):
    plugin = refunding_gateway("coinpay24")
    order, payment = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay24"
    )
    order_refund(staff, order, payment.total)
    refund = RefundRequest.objects.get()
    command("--address", str(refund.pk), BTC)
    sb.inject_fault("icoinpay", "drop", endpoint="send")
    assert "unknown" in payouts()
    payouts()
    assert len(sb.payouts()) == 1
    refund.refresh_from_db()
    assert refund.status == S.NEEDS_ATTENTION
    assert StaffTask.objects.filter(kind=f"payout_unknown:{refund.pk}", resolved_at=None).exists()
    payment.refresh_from_db()
    assert payment.charge_status == ChargeStatus.FULLY_CHARGED

    command("--mark-sent", str(refund.pk), "--txid", str(sb.payouts()[0]["id"]))
    payment.refresh_from_db()
    assert payment.charge_status == ChargeStatus.FULLY_REFUNDED
    assert len(sb.payouts()) == 1


def test_without_icoinpay_staff_mark_it_sent_by_hand(
    configure_gateway, api_client, staff, ready_checkout, checkout_total, sb, payouts, command
):
    plugin = configure_gateway("coinpay24")  # no iCoinPay key
    order, payment = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay24"
    )
    assert order_refund(staff, order, payment.total)["errors"] == []
    refund = RefundRequest.objects.get()
    command("--address", str(refund.pk), BTC)
    assert "Nothing to send." in payouts()
    command("--mark-sent", str(refund.pk), "--txid", "f" * 64)
    payment.refresh_from_db()
    assert payment.charge_status == ChargeStatus.FULLY_REFUNDED
    txn = payment.transactions.get(kind=TransactionKind.REFUND)
    assert txn.amount == payment.total
    assert any("f" * 64 in m for m in order_messages(order))
    assert sb.payouts() == []


def test_claim_link_belongs_to_its_channel_and_resists_tampering(
    refunding_gateway, api_client, staff, ready_checkout, checkout_total, sb, channel_PLN
):
    plugin = refunding_gateway("coinpay24")
    refunding_gateway("coinpay24", channel=channel_PLN, supported_currencies="PLN")
    order, payment = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay24"
    )
    order_refund(staff, order, payment.total)
    refund = RefundRequest.objects.get()
    path = urlsplit(metadata(order)[str(refund.pk)]["claim_url"]).path
    other = path.replace("/channel/main/", f"/channel/{channel_PLN.slug}/")
    assert Client().get(other).status_code == 404
    assert Client().post(other, {"address": BTC}).status_code == 404
    assert Client().get(path[:-3] + "xyz").status_code == 410
    refund.refresh_from_db()
    assert refund.status == S.AWAITING_ADDRESS


def test_a_refund_without_an_order_is_still_left_to_staff(
    refunding_gateway, api_client, ready_checkout, checkout_total, sb
):
    """Saleor refunds a payment by itself when checkout completion fails: with
    no order there is nothing to refund yet (the paid_no_order path keeps the
    money in front of staff), so that call is refused as before."""
    plugin = refunding_gateway("coinpay24")
    _, payment = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay24"
    )
    manager = get_plugins_manager(allow_replica=False)
    info = create_payment_information(payment, payment_token="t", amount=payment.total)
    instance = manager.get_plugin(plugin.PLUGIN_ID, channel_slug="main")
    response = instance.refund_payment(replace(info, order_id=None), None)
    assert not response.is_success and "cannot refund through its API" in response.error
    assert not RefundRequest.objects.exists()
    assert StaffTask.objects.filter(kind="refund", resolved_at=None).count() == 1


def test_wrong_icoinpay_key_is_refused_on_save(
    crypto_plugins, staff_api_client, permission_manage_plugins, channel_USD, sb
):
    from .flow import plugin_update  # noqa: PLC0415

    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    plugin = crypto_plugins["coinpay24"]
    common = {
        "api_key": sb.coinpay24_api_key,
        "api_base_url": sb.coinpay24_base,
        "icoinpay_api_base_url": sb.icoinpay_base,
    }
    errors = plugin_update(
        staff_api_client,
        plugin.PLUGIN_ID,
        channel_USD,
        active=True,
        icoinpay_api_key="wrong",
        **common,
    )
    assert [(e["field"], e["code"]) for e in errors] == [("icoinpayApiKey", "INVALID")]
    errors = plugin_update(
        staff_api_client,
        plugin.PLUGIN_ID,
        channel_USD,
        active=True,
        icoinpay_api_key=sb.icoinpay_api_key,
        refund_rate="tomorrow",
        **common,
    )
    assert [(e["field"], e["code"]) for e in errors] == [("refundRate", "INVALID")]
    errors = plugin_update(
        staff_api_client,
        plugin.PLUGIN_ID,
        channel_USD,
        active=True,
        icoinpay_api_key=sb.icoinpay_api_key,
        **common,
    )
    assert errors == []


@pytest.mark.parametrize("path", ["orderRefund", "paymentRefund", "refundProducts"])
def test_every_dashboard_refund_path_ends_with_one_refund_event(
    path,
    refunding_gateway,
    api_client,
    staff,
    ready_checkout,
    checkout_total,
    sb,
    payouts,
    command,
    django_capture_on_commit_callbacks,
):
    """orderRefund and paymentRefund leave the refund event to the sent payout;
    "Refund products" makes Saleor record it (and e-mail the shopper) at request
    time, whatever the gateway answered: the sent payout must not add a second."""
    plugin = refunding_gateway("coinpay24")
    order, payment = paid_order(
        api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay24"
    )
    total = payment.total
    # the mutation as committed: 3.21+'s test client runs the on-commit
    # callbacks itself (wrapping it again would run Saleor's events twice)
    runs_them = "captureOnCommitCallbacks" in inspect.getsource(ApiClient.post_graphql)
    with django_capture_on_commit_callbacks(execute=not runs_them):
        if path == "orderRefund":
            result = order_refund(staff, order, total)
        elif path == "paymentRefund":
            result = payment_refund(staff, payment, total)
        else:
            result = refund_products(staff, order, total)
    assert result["errors"] == []
    refund = RefundRequest.objects.get()
    refunded = order.events.filter(type=OrderEvents.PAYMENT_REFUNDED)
    assert refunded.count() == (1 if path == "refundProducts" else 0)  # Saleor's own, early
    if path == "refundProducts":
        assert any("already marked it refunded" in m for m in order_messages(order))

    command("--address", str(refund.pk), BTC)
    assert "sent" in payouts()
    payouts()
    assert refunded.count() == 1
    assert Decimal(str(refunded.get().parameters["amount"])) == total
    payment.refresh_from_db()
    assert payment.charge_status == ChargeStatus.FULLY_REFUNDED
    assert payment.transactions.filter(kind=TransactionKind.REFUND).count() == 1
    assert len(sb.payouts()) == 1


def test_a_refused_address_leaves_no_working_claim_link_in_the_logs(
    refunding_gateway, api_client, staff, ready_checkout, checkout_total, sb, caplog
):
    """Django logged ``Bad Request: …/claim/<token>`` and the link still worked:
    anyone reading the logs could claim the refund."""
    caplog.set_level(logging.DEBUG)
    quiet = [lg for lg in logging.root.manager.loggerDict.values()
             if isinstance(lg, logging.Logger) and not lg.propagate]  # fmt: skip
    for logger in quiet:
        logger.addHandler(caplog.handler)
    try:
        plugin = refunding_gateway("coinpay24")
        order, payment = paid_order(
            api_client, ready_checkout, plugin, checkout_total(ready_checkout), sb, "coinpay24"
        )
        order_refund(staff, order, payment.total)
        refund = RefundRequest.objects.get()
        path = urlsplit(metadata(order)[str(refund.pk)]["claim_url"]).path
        token = path.rstrip("/").rsplit("/", 1)[1]
        testnet = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
        assert Client().post(path, {"address": testnet}).status_code == 400
        assert Client().get(path).status_code == 200  # the link still works
    finally:
        for logger in quiet:
            logger.removeHandler(caplog.handler)
    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("Bad Request: ") and "/claim/***" in line for line in lines)
    assert not [line for line in lines if token in line]
