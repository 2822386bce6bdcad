from decimal import Decimal

import pytest
from django.utils import timezone

from saleor_cryptopay.models import Invoice
from saleor_cryptopay.sandbox import SandboxServer

from . import refund_edition


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(port=0) as sb:
        yield sb


@pytest.fixture
def edition(sb, settings):
    settings.CRYPTOPAY_EDITION = "tests.core.refund_edition"
    refund_edition.configure(sb.icoinpay_base, sb.icoinpay_api_key)
    return refund_edition


@pytest.fixture
def paid_invoice():
    """A captured 10.00 USD invoice paid with 0.0002 BTC (1 BTC = 50 000 USD)."""
    counter = iter(range(1, 10_000))

    def make(**kw) -> Invoice:
        values = {
            "provider": "coinpay24",
            "channel_slug": "main",
            "provider_invoice_id": f"inv-{next(counter)}",
            "amount": Decimal("10.00"),
            "currency": "USD",
            "status": "paid",
            "pay_amount": Decimal("0.0002"),
            "pay_currency": "BTC",
            "charged_at": timezone.now(),
            "payment_id": 77,
            "order_id": "order-1",
        }
        values.update(kw)
        return Invoice.objects.create(**values)

    return make
