"""Order creation before payment, a checkout whose total changes between two
attempts, and the provider being down while the shopper checks out."""

import json
from decimal import Decimal

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.test import Client  # noqa: E402
from saleor.checkout.models import Checkout  # noqa: E402
from saleor.graphql.core.utils import to_global_id_or_none  # noqa: E402
from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import ChargeStatus, TransactionKind  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice  # noqa: E402
from saleor_cryptopay.plugin.payments import published  # noqa: E402

from .flow import (  # noqa: E402
    add_line,
    complete,
    confirmation,
    create_payment,
    deliver,
    order_messages,
    start,
)

pytestmark = pytest.mark.django_db

PROVIDERS = ["coinpay24", "coinpay_th"]


def captures(payment) -> int:
    return payment.transactions.filter(kind=TransactionKind.CAPTURE, is_success=True).count()


# -- order_creation=before_payment ---------------------------------------------------

COMPLETE_WITH_METADATA = """
mutation Complete($id: ID) {
  checkoutComplete(id: $id) {
    order { id payments { id metadata { key value } } }
    confirmationNeeded
    errors { field code message }
  }
}
"""


@pytest.mark.parametrize("provider", PROVIDERS)
def test_before_payment_creates_the_order_at_once_and_the_callback_charges_it_once(
    provider, configure_gateway, user_api_client, ready_checkout, checkout_total, sb
):
    # a signed-in shopper: Saleor shows a payment's metadata to its owner
    # (and to staff and apps), not to guests
    api_client = user_api_client
    ready_checkout.user = api_client.user
    ready_checkout.email = api_client.user.email
    ready_checkout.save(update_fields=["user", "email"])
    plugin = configure_gateway(provider, order_creation="before_payment")
    total = checkout_total(ready_checkout)
    create_payment(api_client, ready_checkout, plugin.PLUGIN_ID, total)

    variables = {"id": to_global_id_or_none(ready_checkout)}
    content = get_graphql_content(api_client.post_graphql(COMPLETE_WITH_METADATA, variables))
    result = content["data"]["checkoutComplete"]

    assert not result["errors"], result["errors"]
    assert result["confirmationNeeded"] is False and result["order"]
    # the storefront reads where to pay from the payment's public metadata,
    # through GraphQL, as JSON
    (meta,) = [m for m in result["order"]["payments"][0]["metadata"] if m["key"] == "cryptopay"]
    shown = json.loads(meta["value"])
    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.charge_status == "none" and order.total_charged_amount == 0
    payment = order.payments.get()
    assert payment.charge_status == ChargeStatus.PENDING and captures(payment) == 0
    assert not Checkout.objects.filter(token=ready_checkout.token).exists()
    invoice = Invoice.objects.get()
    assert shown["invoice_id"] == invoice.provider_invoice_id
    assert Decimal(shown["amount"]) == total and shown["status"] == invoice.status
    assert published(payment) == shown

    sb.act(provider, invoice.provider_invoice_id, "pay")
    sb.act(provider, invoice.provider_invoice_id, "resend")
    client = Client()
    for index in (0, -1, 0):
        response = deliver(
            client, sb, provider, invoice.provider_invoice_id, plugin.PLUGIN_ID, index=index
        )
        assert response.status_code == 200

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.charge_status == "full" and order.total_charged_amount == total
    assert payment.charge_status == ChargeStatus.FULLY_CHARGED and captures(payment) == 1
    assert Order.objects.filter(checkout_token=ready_checkout.token).count() == 1
    assert sum("Payment received" in m for m in order_messages(order)) == 1
    assert sorted(CallbackEvent.objects.values_list("outcome", flat=True)) == [
        "ignored",
        "ignored",
        "processed",
    ]
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.order_id == str(order.pk)
    # the published status follows the invoice
    assert json.loads(payment.get_value_from_metadata("cryptopay"))["status"] == "paid"


def test_metadata_stored_as_a_dict_by_older_versions_is_read_and_rewritten_as_json(
    configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway("coinpay24", order_creation="before_payment")
    create_payment(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))
    complete(api_client, ready_checkout)
    payment = Payment.objects.get()
    old = json.loads(payment.get_value_from_metadata("cryptopay"))
    payment.store_value_in_metadata({"cryptopay": old})  # what 0.1 stored
    payment.save(update_fields=["metadata"])
    assert published(payment) == old

    invoice = Invoice.objects.get()
    sb.act("coinpay24", invoice.provider_invoice_id, "pay")
    response = deliver(Client(), sb, "coinpay24", invoice.provider_invoice_id, plugin.PLUGIN_ID)
    assert response.status_code == 200

    payment.refresh_from_db()
    stored = payment.get_value_from_metadata("cryptopay")
    assert isinstance(stored, str) and json.loads(stored)["status"] == "paid"


# -- the checkout total changes between two attempts -----------------------------------


def change_total(api_client, checkout, product, checkout_total, old_total):
    add_line(api_client, checkout, product.variants.first())
    checkout.refresh_from_db()
    new_total = checkout_total(checkout)
    assert new_total > old_total
    return new_total


def test_coinpay_th_changed_total_updates_the_same_provider_order(
    configure_gateway, api_client, ready_checkout, checkout_total, product, sb
):
    plugin = configure_gateway("coinpay_th")
    total = checkout_total(ready_checkout)
    first = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)
    new_total = change_total(api_client, ready_checkout, product, checkout_total, total)

    second = start(api_client, ready_checkout, plugin.PLUGIN_ID, new_total)

    assert second["invoice_id"] == first["invoice_id"]
    assert second["address"] == first["address"]
    assert Decimal(second["amount"]) == new_total
    assert Decimal(second["pay_amount"]) > Decimal(first["pay_amount"])
    at_provider = sb.orders()
    assert len(at_provider) == 1
    assert Decimal(str(at_provider[0]["order_amount"])) == new_total
    invoice = Invoice.objects.get()
    payments = Payment.objects.filter(checkout=ready_checkout).order_by("pk")
    assert [p.is_active for p in payments] == [False, True]
    assert invoice.payment_id == payments[1].pk and invoice.amount == new_total

    sb.act("coinpay_th", invoice.provider_invoice_id, "pay")
    response = deliver(Client(), sb, "coinpay_th", invoice.provider_invoice_id, plugin.PLUGIN_ID)
    assert response.status_code == 200
    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.total_charged_amount == new_total and order.charge_status == "full"


def test_coinpay24_changed_total_makes_a_new_invoice_and_supersedes_the_old(
    configure_gateway, api_client, ready_checkout, checkout_total, product, sb
):
    plugin = configure_gateway("coinpay24")
    total = checkout_total(ready_checkout)
    first = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)
    new_total = change_total(api_client, ready_checkout, product, checkout_total, total)

    second = start(api_client, ready_checkout, plugin.PLUGIN_ID, new_total)

    assert second["invoice_id"] != first["invoice_id"]
    assert Decimal(second["amount"]) == new_total
    old = Invoice.objects.get(provider_invoice_id=first["invoice_id"])
    new = Invoice.objects.get(provider_invoice_id=second["invoice_id"])
    assert old.superseded and not new.superseded
    assert new.amount == new_total and old.amount == total
    assert [Decimal(i["price_amount"]) for i in sb.invoices()] == [total, new_total]

    sb.act("coinpay24", new.provider_invoice_id, "pay")
    response = deliver(Client(), sb, "coinpay24", new.provider_invoice_id, plugin.PLUGIN_ID)
    assert response.status_code == 200
    order = Order.objects.get(checkout_token=ready_checkout.token)
    assert order.total_charged_amount == new_total and order.charge_status == "full"


# -- provider outage at checkout ------------------------------------------------------

FAULTS = [
    pytest.param({"mode": "status", "status": 503}, id="503"),
    pytest.param({"mode": "status", "status": 500}, id="500"),
    pytest.param({"mode": "html"}, id="html-502"),
    pytest.param({"mode": "empty"}, id="empty-500"),
    pytest.param({"mode": "rate_limit", "retry_after": 30}, id="429"),
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", FAULTS)
def test_provider_outage_at_checkout_is_a_clear_error_then_a_retry_works(
    provider, fault, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    create_payment(api_client, ready_checkout, plugin.PLUGIN_ID, total)
    sb.inject_fault(provider, count=100, **fault)

    for _ in range(2):  # the shopper tries twice while it is down
        result = complete(api_client, ready_checkout)
        assert result["order"] is None and not result["confirmationNeeded"]
        assert [e["code"] for e in result["errors"]] == ["PAYMENT_ERROR"], result
        assert "not answering right now" in result["errors"][0]["message"]
        assert not Invoice.objects.exists()
    assert Checkout.objects.filter(token=ready_checkout.token).exists()

    sb.clear_faults()
    data = confirmation(complete(api_client, ready_checkout))

    invoice = Invoice.objects.get()
    assert data["invoice_id"] == invoice.provider_invoice_id
    created = sb.invoices() if provider == "coinpay24" else sb.orders()
    assert len(created) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_refusal_at_checkout_is_reported_as_such(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    create_payment(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))
    sb.inject_fault(provider, "status", status=422)

    result = complete(api_client, ready_checkout)

    assert [e["code"] for e in result["errors"]] == ["PAYMENT_ERROR"], result
    assert "refused the payment" in result["errors"][0]["message"]
    assert not Invoice.objects.exists()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_answer_lost_after_the_provider_acted_leaves_one_local_invoice(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """The provider made the invoice but its answer was cut short: the shop
    cannot know its id, so the retry makes a second one at the provider (the
    first is left for reconciliation); locally there is exactly one."""
    plugin = configure_gateway(provider)
    create_payment(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))
    sb.inject_fault(provider, "bad_json")

    result = complete(api_client, ready_checkout)
    assert [e["code"] for e in result["errors"]] == ["PAYMENT_ERROR"], result
    assert not Invoice.objects.exists()

    data = confirmation(complete(api_client, ready_checkout))
    assert Invoice.objects.get().provider_invoice_id == data["invoice_id"]
    at_provider = sb.invoices() if provider == "coinpay24" else sb.orders()
    assert len(at_provider) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_provider_id_the_shop_already_holds_is_a_clear_payment_error(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """A provider whose ids started over (the sandbox after a restart did) made
    checkoutComplete a 500: IntegrityError on the unique provider invoice id."""
    plugin = configure_gateway(provider)
    kind = "invoice" if provider == "coinpay24" else "order"
    with sb.store.lock:  # the id the provider gives next, held from before its reset
        reused = str(sb.store.seq[kind] + 1)
    old = Invoice.objects.create(
        provider=provider,
        channel_slug="main",
        provider_invoice_id=reused,
        payment_id=None,
        checkout_token="00000000-0000-4000-8000-000000000042",
        amount=Decimal("12.00"),
        currency="USD",
        status="paid",
    )
    before = Invoice.objects.filter(pk=old.pk).values().get()
    create_payment(api_client, ready_checkout, plugin.PLUGIN_ID, checkout_total(ready_checkout))

    result = complete(api_client, ready_checkout)

    assert [e["code"] for e in result["errors"]] == ["PAYMENT_ERROR"], result
    assert f"id {reused}" in result["errors"][0]["message"]
    assert "nothing was charged" in result["errors"][0]["message"]
    assert list(Invoice.objects.values()) == [before]  # the old invoice untouched
    assert not Order.objects.filter(checkout_token=ready_checkout.token).exists()
