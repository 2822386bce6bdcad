from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Optional

from ..lifecycle import Observation
from ..models import Invoice
from ..providers.coinpay24 import CoinPay24Client
from ..providers.coinpay24 import Invoice as ApiInvoice
from .base import Created, Observed, json_safe

# Invoices are listed from a little before the oldest open one: the filter
# works on whole UTC days.
_LIST_MARGIN = timedelta(days=1)


class CoinPay24Bridge:
    provider = "coinpay24"
    verifies_locally = True  # an HMAC: free, so it runs before any lock

    def __init__(self, client: CoinPay24Client, *, pay_currency: str = "") -> None:
        self.client = client
        self.pay_currency = pay_currency.strip().upper()  # white-label coin, if chosen

    def create(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        callback_url: str,
        success_url: Optional[str],
        cancel_url: Optional[str],
        title: str,
        description: str,
    ) -> Created:
        invoice = self.client.create_invoice(
            order_id=reference,
            price_amount=amount,
            price_currency=currency,
            title=title,
            description=description,
            callback_url=callback_url,
            success_url=success_url,
            cancel_url=cancel_url,
        )
        if self.pay_currency:
            invoice = self.client.checkout(invoice.id, pay_currency=self.pay_currency)
        return Created(
            provider_invoice_id=invoice.id,
            status=invoice.status,
            provider_ref=_token(invoice.payment_url),
            payment_url=invoice.payment_url or "",
            address=invoice.payment_address or "",
            pay_amount=invoice.pay_amount,
            pay_currency=invoice.pay_currency or "",
            expires_at=invoice.expire_at,
            data=json_safe(dict(invoice.raw)),
        )

    def update(self, invoice: Invoice, *, amount: Decimal, currency: str) -> Optional[Created]:
        return None  # CoinPay24 invoices cannot change amount: a new one is made

    def observe(self, invoice: Invoice) -> Observed:
        return self._observed(self.client.get_invoice(invoice.provider_invoice_id))

    def callback_invoice_id(self, fields: dict[str, str]) -> Optional[str]:
        return (fields.get("txn_id") or fields.get("id") or "").strip() or None

    def claimed_state(self, fields: dict[str, str]) -> Optional[str]:
        """What the callback claims ("charged", "refunded" or None): used only
        to skip repeats of a final state, never to act."""
        status = (fields.get("status") or "").strip().lower()
        return {"paid": "charged", "completed": "charged", "refunded": "refunded"}.get(status)

    def verify_callback(self, pairs: list[tuple[str, str]]) -> bool:
        return self.client.verify_callback(pairs)

    def sweep(self, invoices: Iterable[Invoice], *, exhaustive: bool = False) -> Iterator[Observed]:
        """List pages (oldest first) from the oldest open invoice on.

        The list cannot filter by status, so closed invoices cost pages too:
        once the pages left outnumber the open invoices not yet seen, reading
        those one by one (done by the caller) is cheaper, and listing stops.
        ``exhaustive`` lists every page, to find payments we have no record of.
        """
        invoices = list(invoices)
        if not invoices:
            return
        wanted = {i.provider_invoice_id for i in invoices}
        since = min(i.created_at for i in invoices) - _LIST_MARGIN
        page = 1
        while True:
            result = self.client.list_invoices(page=page, sort="created_at_asc", created_from=since)
            for item in result.invoices:
                wanted.discard(item.id)
                yield self._observed(item)
            if page >= result.total_pages or not result.invoices:
                return
            if not exhaustive and (result.total_pages - page > len(wanted)):
                return
            page += 1

    @staticmethod
    def _observed(invoice: ApiInvoice) -> Observed:
        received = None
        if invoice.pay_amount is not None and invoice.underpaid_amount:
            received = invoice.pay_amount - invoice.underpaid_amount
        elif invoice.pay_amount is not None and invoice.overpaid_amount:
            received = invoice.pay_amount + invoice.overpaid_amount
        return Observed(
            provider_invoice_id=invoice.id,
            observation=Observation(
                status=invoice.status,
                price_amount=invoice.price_amount,
                price_currency=invoice.price_currency,
                due=invoice.pay_amount,
                received=received,
            ),
            pay_amount=invoice.pay_amount,
            pay_currency=invoice.pay_currency or "",
            address=invoice.payment_address or "",
            expires_at=invoice.expire_at,
            reference=invoice.order_id or "",
            data=json_safe(dict(invoice.raw)),
        )


def _token(url: Optional[str]) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1][:128] if url else ""
