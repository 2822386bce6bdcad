"""The App edition against Saleor's own code: the manifest passes Saleor's
install-time validation, and a TRANSACTION_INITIALIZE_SESSION payload built
and signed by Saleor from the manifest's subscription is verified and read
by the App's (database-free) signature and payload code."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

import graphene  # noqa: E402
from saleor.app.manifest_validations import clean_manifest_data  # noqa: E402
from saleor.channel import TransactionFlowStrategy  # noqa: E402
from saleor.core.jwt_manager import get_jwt_manager  # noqa: E402
from saleor.payment.interface import (  # noqa: E402
    PaymentGatewayData,
    TransactionProcessActionData,
    TransactionSessionData,
)
from saleor.webhook.event_types import WebhookEventSyncType  # noqa: E402
from saleor.webhook.models import Webhook  # noqa: E402
from saleor.webhook.transport import signature_for_payload  # noqa: E402
from saleor.webhook.transport.asynchronous.transport import (  # noqa: E402
    create_deliveries_for_subscriptions,
)

from saleor_cryptopay.app import payloads  # noqa: E402
from saleor_cryptopay.app.manifest import (  # noqa: E402
    ASYNC_SUBSCRIPTIONS,
    SUBSCRIPTIONS,
    manifest,
)
from saleor_cryptopay.app.signature import check  # noqa: E402


def test_manifest_passes_saleors_validation():
    data = manifest("https://cryptopay.example")
    clean_manifest_data(data, raise_for_saleor_version=True)  # raises when invalid
    events = sorted(e for w in data["webhooks"] for e in w["events"])
    assert events == sorted(e.lower() for e in {**SUBSCRIPTIONS, **ASYNC_SUBSCRIPTIONS})


@pytest.mark.django_db
def test_initialize_payload_built_and_signed_by_saleor(
    checkout, webhook_app, permission_manage_payments, transaction_item_generator
):
    webhook_app.permissions.add(permission_manage_payments)
    event = WebhookEventSyncType.TRANSACTION_INITIALIZE_SESSION
    webhook = Webhook.objects.create(
        name="cryptopay",
        app=webhook_app,
        target_url="https://cryptopay.example/api/webhooks/transaction-initialize-session",
        subscription_query=SUBSCRIPTIONS["TRANSACTION_INITIALIZE_SESSION"][1],
    )
    webhook.events.create(event_type=event)
    transaction = transaction_item_generator(checkout_id=checkout.pk, app=webhook_app)
    session = TransactionSessionData(
        transaction=transaction,
        source_object=checkout,
        action=TransactionProcessActionData(
            amount=Decimal("30.00"),
            currency="USD",
            action_type=TransactionFlowStrategy.CHARGE,
        ),
        customer_ip_address="127.0.0.1",
        payment_gateway_data=PaymentGatewayData(
            app_identifier="saleor.cryptopay", data={"provider": "coinpay24"}, error=None
        ),
        idempotency_key=str(uuid.uuid4()),
    )
    [delivery] = create_deliveries_for_subscriptions(event, session, [webhook])
    body = delivery.payload.get_payload().encode()
    signature = signature_for_payload(body, None)
    jwks = get_jwt_manager().get_jwks()

    assert check(signature, body, jwks)
    assert not check(signature, body.replace(b"30", b"31"), jwks)

    payload = json.loads(body)
    assert payload["recipient"]["id"] == graphene.Node.to_global_id("App", webhook_app.pk)
    issued = payloads.issued_at(payload)
    assert issued and abs(datetime.now(UTC) - issued) < timedelta(minutes=1)
    assert payloads.transaction_id(payload) == graphene.Node.to_global_id(
        "TransactionItem", transaction.token
    )
    assert payloads.action(payload) == (Decimal("30.00"), "USD")
    assert payloads.source(payload) == payloads.Source(
        "Checkout",
        str(checkout.pk),
        checkout.channel.slug,
        checkout.channel.currency_code,
        channel_name=checkout.channel.name,  # what the shopper reads on the invoice
    )
    assert payloads.storefront_data(payload) == {"provider": "coinpay24"}
