"""The page's token: the invoice id and provider id, signed with SECRET_KEY.

Not timestamped, so the storefront gets the same URL on every call; it
grants nothing but a view of one invoice's payment details, so it need not
expire (a shopper may come back to a late payment's page).
"""

from __future__ import annotations

import hmac
import zlib
from typing import Optional

from django.core import signing

from ..models import Invoice

SALT = "saleor_cryptopay.payment-page"
MAX_LENGTH = 200  # ours are about 60 characters: longer is not worth unsigning


def page_token(invoice: Invoice) -> str:
    return signing.Signer(salt=SALT).sign_object([invoice.pk, invoice.provider_invoice_id or ""])


def open_page(token: str) -> Optional[Invoice]:
    """The invoice the token stands for, or None (forged, tampered, or an
    invoice that has no page). Bound to the provider id too, so a token
    outlives no database reset into another invoice with the same pk."""
    if not token or len(token) > MAX_LENGTH:
        return None
    try:
        pk, provider_id = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError, zlib.error):
        return None
    if not isinstance(pk, int):
        return None
    invoice = Invoice.objects.filter(pk=pk, shopper_page=True).first()
    if invoice is None:
        return None
    if not hmac.compare_digest(str(invoice.provider_invoice_id or ""), str(provider_id)):
        return None
    return invoice


def page_url(invoice: Invoice, base: str) -> Optional[str]:
    """The page's URL under an edition's ``base`` (ending in ``/``), for
    invoices that have a page; None for the others (hosted CoinPay24)."""
    if not invoice.shopper_page or not invoice.pk:
        return None
    return f"{base}{page_token(invoice)}"
