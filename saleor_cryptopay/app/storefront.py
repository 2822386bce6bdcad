"""The storefront contract in ``transactionInitialize{data}`` /
``transactionProcess{data}``: the same keys as the plugin's
``confirmationData``. (A core ``contract.py`` is being written for both
editions; this small copy is to be replaced by it at merge.)"""

from __future__ import annotations

from typing import Any

from ..models import Invoice
from ..money import format_amount


def contract(invoice: Invoice) -> dict[str, Any]:
    data = {
        "provider": invoice.provider,
        "invoice_id": invoice.provider_invoice_id,
        "status": invoice.status,
        "payment_url": invoice.payment_url or None,
        "amount": format_amount(invoice.amount, invoice.currency),
        "currency": invoice.currency,
        "pay_amount": format(invoice.pay_amount, "f") if invoice.pay_amount is not None else None,
        "pay_currency": invoice.pay_currency or None,
        "address": invoice.address or None,
        "expires_at": invoice.expires_at.isoformat() if invoice.expires_at else None,
    }
    if invoice.provider_data.get("qr_data"):
        data["qr_data"] = invoice.provider_data["qr_data"]
    return data
