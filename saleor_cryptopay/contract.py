"""The storefront contract: what a shopper's page needs to pay one invoice.

Built from our own invoice row only (no provider call, no Saleor), so both
editions answer it: the plugin as ``confirmationData`` and payment metadata,
the App in its ``data``. The README's "Storefront contract" documents it.
"""

from __future__ import annotations

from typing import Any, Optional

from .models import Invoice
from .money import format_amount, plain_decimal
from .payment_page.token import page_url
from .qr import payment_uri, qr_data_uri


def invoice_payment_uri(invoice: Invoice) -> Optional[str]:
    """What the shopper's wallet should scan, once the invoice has an address."""
    if not invoice.address:
        return None
    return payment_uri(invoice.pay_currency, invoice.address, invoice.pay_amount)


def confirmation_data(invoice: Invoice, page_base: Optional[str] = None) -> dict[str, Any]:
    """Enough to redirect the shopper or to render address, amount and a
    scannable QR code in place. Keys are always present (null when unknown)
    except ``qr_data``, the provider's own image, kept for older storefronts.
    Amounts read the same on every call, whether the invoice was just made or
    read back from the database (which pads them to the column's places).

    ``page_base``: where the edition serves our payment page (ending in
    ``/``). Invoices that have one (an address from the start: CoinPay.in.th,
    white-label CoinPay24) get it as ``payment_url``, so a storefront can
    always redirect there; hosted CoinPay24 keeps the provider's page."""
    uri = invoice_payment_uri(invoice)
    own_page = page_url(invoice, page_base) if page_base else None
    data = {
        "provider": invoice.provider,
        "invoice_id": invoice.provider_invoice_id,
        "status": invoice.status,
        "payment_url": own_page or invoice.payment_url or None,
        "amount": format_amount(invoice.amount, invoice.currency),
        "currency": invoice.currency,
        "pay_amount": plain_decimal(pay) if (pay := invoice.pay_amount) is not None else None,
        "pay_currency": invoice.pay_currency or None,
        "address": invoice.address or None,
        "expires_at": invoice.expires_at.isoformat() if invoice.expires_at else None,
        "payment_uri": uri,
        "qr_code": qr_data_uri(uri) if uri else None,
    }
    if invoice.provider_data.get("qr_data"):
        data["qr_data"] = invoice.provider_data["qr_data"]
    return data
