from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Optional

from ..lifecycle import Observation
from ..models import Invoice
from ..providers.coinpay_th import CoinPayThClient, Order, OrderNotFound, OrderState
from ..providers.errors import ProviderError
from ..providers.status import PaymentStatus
from ..qr import payment_uri
from .base import Created, Observed, json_safe

ALL_STATUSES = (0, 1, 2, 4, 5)
_LIST_MARGIN = timedelta(hours=1)
RATE_BASE = Decimal(1_000_000)


class CoinPayThBridge:
    provider = "coinpay_th"
    verifies_locally = False  # verifyipn is an API call: made under the locks

    def __init__(self, client: CoinPayThClient, *, keep: Optional[int] = None) -> None:
        self.client = client
        self.keep = keep

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
        order = self.client.create_order(
            amount=amount,
            currency=currency,
            reference_id=reference,
            ipn=callback_url,
            notes=title or None,
            keep=self.keep,
        )
        return self._created(order)

    def update(self, invoice: Invoice, *, amount: Decimal, currency: str) -> Optional[Created]:
        try:
            order = self.client.update_order(
                int(invoice.provider_invoice_id), amount=amount, currency=currency
            )
        except OrderNotFound:
            return None
        return self._created(order)

    @staticmethod
    def _created(order: Order) -> Created:
        return Created(
            provider_invoice_id=str(order.order_id),
            status=PaymentStatus.WAITING,
            provider_ref=order.order_hash or "",
            payment_url=payment_uri("BTC", order.address, order.btc_amount) or "",
            address=order.address,
            pay_amount=order.btc_amount,
            pay_currency="BTC",
            qr_data=order.qr_data,
            expires_at=order.expires_at,
            data=json_safe({k: v for k, v in order.raw.items() if k not in ("qr_data", "html")}),
        )

    def observe(self, invoice: Invoice) -> Observed:
        return self._observed(self.client.check_order(int(invoice.provider_invoice_id)))

    def current_rate(self, coin: str, fiat: str) -> Decimal:
        """Bitcoin per unit of ``fiat`` now (refunds at today's rate). Asked for
        a million units: the answer has 8 decimals, too few for one unit."""
        if coin.upper() != "BTC":
            raise ProviderError(f"no {coin} rate", provider="coinpay_th", code="unsupported")
        value, _ = self.client.price(currency=fiat, amount=RATE_BASE)
        return value / RATE_BASE

    def callback_invoice_id(self, fields: dict[str, str]) -> Optional[str]:
        value = (fields.get("order_id") or "").strip()
        return value if value.isdigit() else None

    def claimed_state(self, fields: dict[str, str]) -> Optional[str]:
        """What the callback claims ("charged" or None): used only to skip
        repeats of a final state, never to act."""
        return "charged" if (fields.get("order_status") or "").strip() == "2" else None

    def verify_callback(self, pairs: list[tuple[str, str]]) -> bool:
        fields = dict(pairs)
        return self.client.verify_ipn(fields.get("order_id"), fields.get("verify"))

    def sweep(self, invoices: Iterable[Invoice], *, exhaustive: bool = False) -> Iterator[Observed]:
        invoices = list(invoices)
        if not invoices:
            return
        since = min(i.created_at for i in invoices) - _LIST_MARGIN
        for state in self.client.list_orders(status_ids=ALL_STATUSES, start=since):
            if state.order_id is not None:
                yield self._observed(state)

    @staticmethod
    def _observed(state: OrderState) -> Observed:
        return Observed(
            provider_invoice_id=str(state.order_id),
            observation=Observation(
                status=state.status,
                price_amount=state.order_amount,
                price_currency=state.currency,
                due=state.btc_amount,
                received=state.btc_received,
            ),
            pay_amount=state.btc_amount,
            pay_currency="BTC",
            reference=state.reference_id or "",
            data=json_safe(dict(state.raw)),
        )
