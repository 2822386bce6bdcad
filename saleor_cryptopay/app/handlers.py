"""Saleor's payment webhooks, one handler per event (the table at the end).

Each takes the authenticated installation and payload and returns the JSON
Saleor expects. Errors are answers too (HTTP 200 with a FAILURE result), as
Saleor turns anything else into a generic failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

from ..gateway_config import PROVIDER_NAMES, url_error
from ..invoice_limits import TooManyInvoices
from ..providers.errors import ProviderError
from ..sync import open_task, reread_due
from . import flow, outbox, refunds
from .models import ChannelConfiguration, Installation, OutboxReport
from .payloads import Payload, action, action_type, source, storefront_data, transaction_id

logger = logging.getLogger(__name__)


def _configs(installation: Installation, channel_slug: str, currency: str):
    configs = ChannelConfiguration.objects.filter(
        installation=installation, channel_slug=channel_slug, active=True
    ).order_by("provider")
    return [c for c in configs if not currency or currency in c.settings.supported_currencies]


def gateway_initialize(installation: Installation, payload: Payload) -> dict[str, Any]:
    """Which providers the storefront may pick in ``paymentGateway.data.provider``."""
    src = source(payload)
    if src is None:
        return {"data": {"providers": []}}
    configs = _configs(installation, src.channel_slug, src.currency.upper())
    providers = [{"id": c.provider, "name": c.provider_name} for c in configs]
    return {"data": {"providers": providers}}


def transaction_initialize(installation: Installation, payload: Payload) -> dict[str, Any]:
    amount, currency = action(payload)
    kind = action_type(payload)
    txn = transaction_id(payload)
    src = source(payload)
    if amount is None or amount <= 0 or not currency or not txn or src is None:
        return flow.failure(amount, "The payment request is incomplete.", kind)
    data = storefront_data(payload)
    configs = _configs(installation, src.channel_slug, currency)
    wanted = str(data.get("provider") or "")
    if not wanted and len(configs) == 1:
        wanted = configs[0].provider
    config = next((c for c in configs if c.provider == wanted), None)
    if config is None:
        offered = ", ".join(c.provider for c in configs) or "none"
        return flow.failure(
            amount,
            f"Choose a provider in paymentGateway.data.provider (offered for {currency} "
            f"in this channel: {offered}).",
            kind,
        )
    return_url = str(data.get("returnUrl") or data.get("return_url") or "") or None
    if return_url and url_error(return_url):
        return flow.failure(amount, "returnUrl must be an http(s) URL.", kind)
    try:
        invoice = flow.open_invoice(
            config,
            transaction_id=txn,
            source=src,
            amount=amount,
            currency=currency,
            return_url=return_url,
        )
    except ProviderError as exc:
        logger.warning("cryptopay-app: invoice creation failed: %s", exc)
        message = flow.provider_error_message(config.provider_name, exc)
        return flow.failure(amount, message, kind)
    except TooManyInvoices as exc:
        logger.warning("cryptopay-app: %s refused: %s", txn, exc)
        return flow.failure(amount, str(exc), kind)
    return flow.session_answer(invoice, action_type=kind)


def transaction_process(installation: Installation, payload: Payload) -> dict[str, Any]:
    """The storefront is back: ask the provider (the callback may not have come)."""
    amount, _ = action(payload)
    kind = action_type(payload)
    invoice = flow.transaction_invoice(installation, transaction_id(payload))
    if invoice is None:
        return flow.failure(amount, "No crypto invoice belongs to this transaction.", kind)
    config = ChannelConfiguration.objects.filter(
        installation=installation, channel_slug=invoice.channel_slug, provider=invoice.provider
    ).first()
    message = ""
    # Saleor (3.20) sends this again until a final event, and a storefront may
    # poll: the provider is asked at most once per interval per invoice, as
    # the plugin's checkoutComplete; otherwise the answer is what is stored
    if config is not None and reread_due(invoice):
        try:
            flow.sync_invoice(invoice.pk, config)
        except ProviderError as exc:
            message = flow.provider_error_message(config.provider_name, exc)
        invoice.refresh_from_db()
    if config is not None and OutboxReport.objects.filter(invoice=invoice, done_at=None).exists():
        # the charge and checkoutComplete go out once Saleor has this answer
        outbox.flush_later(invoice.pk)
    return flow.session_answer(invoice, message, kind)


def _staff_request(kind: str, result: str, explanation: str) -> Callable[..., dict[str, Any]]:
    def handler(installation: Installation, payload: Payload) -> dict[str, Any]:
        amount, currency = action(payload)
        txn = payload.get("transaction") or {}
        invoice = flow.transaction_invoice(installation, str(txn.get("id") or ""))
        provider = PROVIDER_NAMES.get(invoice.provider, "The provider") if invoice else "Crypto"
        if invoice is not None:
            with transaction.atomic():
                open_task(invoice, kind, f"{kind.title()} of {amount} {currency} requested")
        return {
            "pspReference": (invoice and invoice.provider_invoice_id)
            or str(txn.get("pspReference") or txn.get("id") or "-"),
            "result": result,
            "amount": str(amount if amount is not None else 0),
            "message": f"{provider} {explanation}",
        }

    return handler


HANDLERS: dict[str, Callable[[Installation, Payload], dict[str, Any]]] = {
    "PAYMENT_GATEWAY_INITIALIZE_SESSION": gateway_initialize,
    "TRANSACTION_INITIALIZE_SESSION": transaction_initialize,
    "TRANSACTION_PROCESS_SESSION": transaction_process,
    "TRANSACTION_REFUND_REQUESTED": refunds.refund_requested,
    "TRANSACTION_CANCELATION_REQUESTED": _staff_request(
        "cancel",
        "CANCEL_FAILURE",
        "invoices cannot be cancelled through the API; an unpaid one expires by itself. "
        "A task was recorded for staff.",
    ),
}
