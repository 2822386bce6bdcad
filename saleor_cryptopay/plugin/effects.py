"""What a decision does to Saleor: transactions, orders, notes.

Called with the checkout, payment and invoice rows locked (in that order, the
same as checkoutComplete), inside one transaction, so each effect runs once.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Optional

from django.core.exceptions import ValidationError
from saleor.checkout.complete_checkout import complete_checkout
from saleor.checkout.fetch import fetch_checkout_info, fetch_checkout_lines
from saleor.checkout.models import Checkout
from saleor.order import events as order_events
from saleor.order.actions import order_charged
from saleor.order.fetch import fetch_order_info
from saleor.order.models import Order
from saleor.payment import ChargeStatus, PaymentError, TransactionKind
from saleor.payment.interface import GatewayResponse
from saleor.payment.models import Payment, Transaction
from saleor.payment.utils import create_transaction, update_payment_charge_status
from saleor.plugins.manager import get_plugins_manager

from .. import timing
from ..lifecycle import Action, Decision, Flag
from ..models import CallbackEvent, Invoice
from ..sync import ATTENTION, open_task
from .compat import checkout_total

logger = logging.getLogger(__name__)

ATTENTION_KEY = "cryptopay.attention"
PAID_NO_ORDER = "paid_no_order"


def _gateway_response(invoice: Invoice, kind: str, amount: Decimal) -> GatewayResponse:
    return GatewayResponse(
        is_success=True,
        action_required=False,
        kind=kind,
        amount=amount,
        currency=invoice.currency,
        transaction_id=invoice.provider_invoice_id,
        error=None,
        raw_response={"provider": invoice.provider, "status": invoice.status},
        psp_reference=invoice.provider_invoice_id,
    )


def _record(payment: Payment, invoice: Invoice, kind: str) -> Transaction:
    txn = create_transaction(
        payment,
        kind=kind,
        payment_information=None,
        action_required=False,
        gateway_response=_gateway_response(invoice, kind, payment.total),
    )
    update_payment_charge_status(payment, txn)
    return txn


def capture_once(payment: Payment, invoice: Invoice) -> tuple[Transaction, bool]:
    """The CAPTURE transaction for this invoice, created at most once.
    The amount is the payment's: crypto overpayment is not Saleor money.
    ``to_confirm`` stays as it is: completing the checkout then goes through
    confirm_payment, which answers with this capture (as Saleor's Stripe does)."""
    existing = payment.transactions.filter(
        kind=TransactionKind.CAPTURE, is_success=True, token=invoice.provider_invoice_id
    ).first()
    if existing:
        return existing, False
    return _record(payment, invoice, TransactionKind.CAPTURE), True


def cancel_once(payment: Payment, invoice: Invoice) -> bool:
    if payment.charge_status != ChargeStatus.NOT_CHARGED or not payment.is_active:
        return False
    _record(payment, invoice, TransactionKind.CANCEL)
    return True


def note(order: Optional[Order], message: str, invoice: Invoice, **params) -> None:
    if order is None:
        return
    order_events.external_notification_event(
        order=order,
        user=None,
        app=None,
        message=f"[{invoice.provider}] {message}",
        parameters={"invoice": invoice.provider_invoice_id, "status": invoice.status, **params},
    )


def mark_order(order: Optional[Order], invoice: Invoice) -> None:
    """A Dashboard-visible flag (private metadata) on orders that need a person."""
    if order is None or not invoice.needs_attention:
        return
    order.store_value_in_private_metadata({ATTENTION_KEY: invoice.attention_reason[:1000]})
    order.save(update_fields=["private_metadata"])


def order_for(payment: Optional[Payment], invoice: Invoice) -> Optional[Order]:
    if payment is not None and payment.order_id:
        return Order.objects.filter(pk=payment.order_id).first()
    if invoice.checkout_token:
        return Order.objects.get_by_checkout_token(invoice.checkout_token)
    return None


def flag_no_order(invoice: Invoice, reason: str) -> None:
    message = f"Paid, but no order could be created: {reason}"
    invoice.flag(PAID_NO_ORDER, reason=message)
    invoice.save(update_fields=["flags", "needs_attention", "attention_reason", "updated_at"])
    open_task(invoice, PAID_NO_ORDER, message)
    logger.warning("cryptopay invoice %s paid without order: %s", invoice.pk, reason)


def complete_paid_checkout(checkout: Checkout, payment: Payment, invoice: Invoice):
    """Create the order from a paid checkout (the Stripe plugin's way). A
    checkout that changed or lost stock is flagged, never dropped."""
    with timing.phase("saleor"):
        return _complete_paid_checkout(checkout, payment, invoice)


def _complete_paid_checkout(checkout: Checkout, payment: Payment, invoice: Invoice):
    manager = get_plugins_manager(allow_replica=False)
    lines, unavailable = fetch_checkout_lines(checkout)
    if unavailable:
        flag_no_order(invoice, "some checkout lines are no longer available")
        return None
    checkout_info = fetch_checkout_info(checkout, lines, manager)
    # Saleor would refuse an uncovered checkout itself, but only after asking the
    # gateway (this plugin) to refund or void the payment: checked first, here
    total = checkout_total(manager, checkout_info, lines, checkout)
    if total.gross.amount > payment.total:
        flag_no_order(
            invoice, f"the checkout total {total.gross.amount} exceeds the paid {payment.total}"
        )
        return None
    try:
        order, _, _ = complete_checkout(
            checkout_info=checkout_info,
            lines=lines,
            manager=manager,
            payment_data={},
            store_source=False,
            user=checkout.user or None,
            app=None,
        )
    except (ValidationError, PaymentError) as exc:
        flag_no_order(invoice, _error_text(exc))
        return None
    return order


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)[:500]
    return str(exc)[:500]


def apply_decision(
    decision: Decision,
    invoice: Invoice,
    payment: Optional[Payment],
    checkout: Optional[Checkout],
    *,
    complete_order: bool = True,
    origin: str = "callback",
) -> str:
    """Carry the decision into Saleor. ``complete_order`` is False inside
    checkoutComplete (Saleor creates the order itself there); ``origin`` says
    how the payment was learned of (see ``late_note``)."""
    action = decision.action
    if action is Action.NOTHING:
        return f"no change ({decision.reason})"
    if payment is None:
        if action is Action.CHARGE:
            flag_no_order(invoice, "the Saleor payment no longer exists")
        return f"{action}: payment gone"

    order = order_for(payment, invoice)
    summary = f"{action}: {decision.reason}"

    if action is Action.CHARGE:
        return _charge(decision, invoice, payment, checkout, order, summary, complete_order, origin)

    if action is Action.CLOSE:
        cancel_once(payment, invoice)
        note(order, f"Invoice {invoice.status}; the payment was cancelled.", invoice)
        return summary

    if action is Action.HOLD:
        for flag in decision.flags:
            note(order, ATTENTION.get(flag, str(flag)), invoice)
        mark_order(order, invoice)
        return summary

    if action is Action.REFUNDED:
        note(order, ATTENTION[Flag.REFUNDED_AT_PROVIDER], invoice)
        mark_order(order, invoice)
        return summary

    # TRACK
    note(order, f"Invoice is now {invoice.status}.", invoice)
    return summary


def _charge(
    decision: Decision,
    invoice: Invoice,
    payment: Payment,
    checkout: Optional[Checkout],
    order: Optional[Order],
    summary: str,
    complete_order: bool,
    origin: str,
) -> str:
    was_active = payment.is_active
    other_payment = (
        checkout is not None
        and checkout.payments.filter(is_active=True).exclude(pk=payment.pk).exists()
    )
    if not was_active and (order is not None or other_payment):
        # Paid an invoice whose payment was replaced, and the checkout was
        # completed (or is being paid) another way. No capture: Saleor's books
        # keep the sale as it is (a capture here would overcharge the order
        # and neither provider can refund by API); the coins are in front of staff.
        reason = (
            "the checkout was completed by another payment"
            if order is not None
            else "the checkout moved on to another payment"
        )
        flag_no_order(invoice, reason)
        note(order, f"A crypto payment arrived for a replaced invoice ({reason}).", invoice)
        mark_order(order, invoice)
        return summary + f"; not captured ({reason}, flagged)"

    with timing.phase("capture"):
        txn, created = capture_once(payment, invoice)
    if not created:
        return "already captured"
    if not was_active:
        # money after expiry on a cancelled payment that nothing replaced:
        # make it live again so the checkout can still become the order
        payment.is_active = True
        payment.save(update_fields=["is_active"])

    if order is not None and payment.order_id == order.pk:
        # before_payment mode: the order waits for this money
        order_charged(
            fetch_order_info(order),
            None,
            None,
            txn.amount,
            payment,
            get_plugins_manager(allow_replica=False),
        )
    elif checkout is None and order is None:
        flag_no_order(invoice, "the checkout no longer exists")
        return summary + "; no order (checkout gone, flagged)"
    elif complete_order and order is None:
        order = complete_paid_checkout(checkout, payment, invoice)
        summary += "; order created" if order else "; no order (flagged)"

    if order is not None:
        with timing.phase("notes"):
            _order_notes(decision, invoice, order, txn, origin)
    return summary


def _order_notes(
    decision: Decision, invoice: Invoice, order: Order, txn: Transaction, origin: str
) -> None:
    if True:
        extras = ", ".join(sorted(f.value for f in decision.flags))
        invoice.order_id = str(order.pk)
        invoice.save(update_fields=["order_id", "updated_at"])
        note(
            order,
            f"Payment received ({invoice.status}{', ' + extras if extras else ''}).",
            invoice,
            amount=str(txn.amount),
        )
        for flag in decision.flags:
            if flag in ATTENTION:
                note(order, ATTENTION[flag], invoice)
        late = late_note(invoice, origin)
        if late:
            note(order, late, invoice)
        mark_order(order, invoice)


def late_note(invoice: Invoice, origin: str) -> Optional[str]:
    """Say so on the order when the money was turned into it late: found by
    reconciliation or a replay, or after callbacks that had failed (e.g. on a
    Saleor where an older plugin version crashed on every paid callback)."""
    # by invoice id, not by foreign key: a crashed handler of 0.1 never linked them
    failed = CallbackEvent.objects.filter(
        provider=invoice.provider,
        provider_invoice_id=invoice.provider_invoice_id,
        outcome=CallbackEvent.Outcome.FAILED,
    ).count()
    attempts = f" ({failed} earlier callback(s) for this invoice had failed)" if failed else ""
    if origin == "reconcile":
        return f"Order recovered late by reconciliation: no callback got through{attempts}."
    if origin == "replay":
        return f"Order recovered late by replaying a stored callback{attempts}."
    if failed:
        return f"Order recovered late: {failed} earlier callback(s) for this invoice had failed."
    return None
