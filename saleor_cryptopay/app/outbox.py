"""Reports to Saleor, kept in the database until Saleor has them.

A decision stores its reports (``enqueue``) in the same transaction as the
invoice update, so a crash or an unreachable Saleor loses nothing; ``flush``
sends them after commit and again on every later callback and reconciliation.
``transactionEventReport`` is idempotent on Saleor's side (same transaction,
pspReference, type and amount → ``alreadyProcessed``) and ``checkoutComplete``
is exactly-once, so a report sent twice does no harm.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Optional

from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from .. import timing
from ..lifecycle import Action, Decision
from ..models import Invoice
from ..sync import open_task
from . import outbound, problems
from .models import Installation, OutboxReport
from .saleor_api import SaleorClient, SaleorRefused, SaleorUnavailable, from_global_id, global_id
from .saleor_version import PAYMENT_METHOD_DETAILS, at_least

logger = logging.getLogger(__name__)

PAID_NO_ORDER = "paid_no_order"
REPORT_REFUSED = "report_refused"
# SQLite ignores SELECT … FOR UPDATE: one sender per process instead
_SQLITE_SENDER = threading.Lock()

EVENT_FOR_ACTION = {
    Action.CHARGE: "CHARGE_SUCCESS",
    Action.CLOSE: "CHARGE_FAILURE",
    Action.HOLD: "INFO",
    Action.REFUNDED: "REFUND_SUCCESS",
}


def enqueue(installation: Installation, invoice: Invoice, decision: Decision) -> int:
    """Store what Saleor must hear about ``decision`` (inside the caller's
    transaction, in one INSERT); returns how many reports that is. A report
    already pending for the invoice stays as it is (the partial unique
    constraint: one pending report per invoice, kind, type and reference)."""
    event_type = EVENT_FOR_ACTION.get(decision.action)
    if event_type is None:
        return 0
    flags = ", ".join(sorted(f.value for f in decision.flags))
    message = f"{invoice.provider} invoice {invoice.status}" + (f" ({flags})" if flags else "")
    if decision.action is Action.HOLD:
        message += f": {decision.reason}"
    rows = [_row(installation, invoice, OutboxReport.EVENT, event_type, message)]
    if decision.action is Action.CHARGE and invoice.checkout_token and not invoice.order_id:
        rows.append(_row(installation, invoice, OutboxReport.COMPLETE, "", "complete the checkout"))
    OutboxReport.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _row(installation, invoice, kind, event_type, message) -> OutboxReport:
    amount = None if event_type == "INFO" else invoice.amount
    return OutboxReport(
        installation=installation,
        invoice=invoice,
        kind=kind,
        event_type=event_type,
        amount=amount,
        message=message[:500],
    )


def flush(
    *, installation: Optional[Installation] = None, invoice: Optional[Invoice] = None
) -> list[str]:
    """Send every pending report (of one installation / invoice), oldest first."""
    pending = OutboxReport.objects.filter(done_at=None, installation__removed_at=None)
    if installation is not None:
        pending = pending.filter(installation=installation)
    if invoice is not None:
        pending = pending.filter(invoice=invoice)
    lines: list[str] = []
    with_charge: set[int] = set()  # completions that went out with their charge
    for pk in pending.values_list("pk", flat=True):
        if pk not in with_charge and (line := send(pk, with_charge)):
            lines.append(line)
    return lines


def flush_later(invoice_pk: int, delay: float = 2.0) -> None:
    """Send an invoice's pending reports shortly after a session webhook has
    been answered: never while Saleor is waiting for that answer."""

    def run() -> None:
        try:
            flush(invoice=Invoice(pk=invoice_pk))
        except Exception:  # the rows stay; reconciliation sends them
            logger.exception("cryptopay-app: deferred report for invoice %s failed", invoice_pk)
        finally:
            connections.close_all()

    timer = threading.Timer(delay, run)
    timer.daemon = True
    timer.start()


def send(pk: int, with_charge: Optional[set[int]] = None) -> str:
    """Send one report unless another sender holds it. On PostgreSQL the row
    stays locked (SKIP LOCKED for the others) while Saleor is called. SQLite
    has no row locks and its one write lock must not be held through a slow
    call to Saleor: a sender leases the rows it sends (``sending_until``, taken
    by a conditional UPDATE), so ``serve`` and ``worker`` processes sharing the
    file never send one report twice (seen: the claim link's INFO event twice,
    24 ms apart). ``with_charge`` collects the completions sent together
    with their charge (a flush then skips them)."""
    with_charge = set() if with_charge is None else with_charge
    if connection.vendor != "sqlite":
        with transaction.atomic():
            return _send(pk, with_charge, held=None)
    with _SQLITE_SENDER:
        if not _lease(pk):
            return ""
        held = [pk]
        try:
            return _send(pk, with_charge, held=held)
        finally:
            OutboxReport.objects.filter(pk__in=held).update(sending_until=None)


def _lease(pk: int) -> bool:
    """Take a row for this sender (one UPDATE, atomic on its own): True if ours."""
    now = timezone.now()
    until = now + timedelta(seconds=outbound.deadline_seconds() * 2 + 30)
    free = Q(sending_until__isnull=True) | Q(sending_until__lt=now)
    return bool(OutboxReport.objects.filter(free, pk=pk, done_at=None).update(sending_until=until))


def _send(pk: int, with_charge: set[int], *, held: Optional[list[int]]) -> str:
    """``held``: the rows this sender leased (SQLite), None where rows are
    locked (PostgreSQL)."""
    rows = OutboxReport.objects.select_related("installation", "invoice")
    if held is None:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    row = rows.filter(pk=pk, done_at=None).first()
    if row is None or row.installation.removed_at is not None:
        return ""  # sent already, or the App was removed: a reinstall sends it
    if row.kind == OutboxReport.COMPLETE and _earlier_pending(row):
        return ""  # the charge must reach Saleor first
    completion = _completion_after(row, held=held)
    if completion is not None:
        return _send_with_completion(row, completion, with_charge)
    _attempt(row)
    try:
        with timing.phase("saleor"):
            result = _deliver(row)
    except SaleorUnavailable as exc:
        return _kept(row, exc)
    except SaleorRefused as exc:
        return _refused(row, exc)
    return _done(row, result)


def _attempt(row: OutboxReport) -> None:
    row.attempts += 1
    row.last_attempt_at = timezone.now()


def _kept(row: OutboxReport, exc: Exception) -> str:
    row.last_error = str(exc)[:2000]
    row.save(update_fields=["attempts", "last_attempt_at", "last_error"])
    logger.warning("cryptopay-app: report %s kept for retry: %s", row, exc)
    return f"kept {row}: {exc}"


def _done(row: OutboxReport, result: str) -> str:
    if row.last_error.startswith("refused"):
        _refusal_resolved(row)
    row.done_at = timezone.now()
    row.result = result[:2000]
    row.last_error = ""
    row.save(update_fields=["attempts", "last_attempt_at", "last_error", "done_at", "result"])
    return f"sent {row}: {result}"


def _completion_after(row: OutboxReport, *, held: Optional[list[int]]) -> Optional[OutboxReport]:
    """The checkout's pending completion, when ``row`` is the charge that is
    the only report before it: both then go to Saleor in one request."""
    if row.kind != OutboxReport.EVENT or row.event_type != "CHARGE_SUCCESS":
        return None
    rows = OutboxReport.objects.filter(
        invoice=row.invoice, kind=OutboxReport.COMPLETE, done_at=None, pk__gt=row.pk
    )
    if held is None:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    completion = rows.first()
    if completion is not None and held is not None:
        if not _lease(completion.pk):
            return None  # another process is sending it
        held.append(completion.pk)
    if completion is None or (
        OutboxReport.objects.filter(invoice=row.invoice, done_at=None, pk__lt=completion.pk)
        .exclude(pk=row.pk)
        .exists()
    ):
        return None
    completion.installation, completion.invoice = row.installation, row.invoice
    return completion


def _send_with_completion(
    row: OutboxReport, completion: OutboxReport, with_charge: set[int]
) -> str:
    invoice = row.invoice
    _attempt(row)
    _attempt(completion)
    try:
        with timing.phase("saleor"):
            report, completed = _client(row.installation).report_and_complete(
                transaction_id=invoice.transaction_id or "",
                psp_reference=invoice.provider_invoice_id or "",
                amount=row.amount,
                currency=invoice.currency,
                checkout_id=global_id("Checkout", invoice.checkout_token or ""),
                message=row.message,
                external_url=_external_url(row),
                payment_method=_payment_method(row),
            )
    except SaleorUnavailable as exc:
        return "; ".join([_kept(row, exc), _kept(completion, exc)])
    except SaleorRefused as exc:  # the whole document: nothing was done
        completion.save(update_fields=["attempts", "last_attempt_at"])
        return _refused(row, exc)
    if isinstance(report, SaleorRefused):
        lines = [_refused(row, report)]
    else:
        lines = [_done(row, f"{row.event_type} {'already processed' if report else 'reported'}")]
    if isinstance(completed, SaleorRefused):
        if isinstance(report, SaleorRefused):
            # not paid in Saleor's eyes, so not completed: sent again with the charge
            completion.save(update_fields=["attempts", "last_attempt_at"])
        else:
            lines.append(_refused(completion, completed))
    else:
        lines.append(_done(completion, _record_order(invoice, *completed)))
        with_charge.add(completion.pk)
    return "; ".join(lines)


def _earlier_pending(row: OutboxReport) -> bool:
    return OutboxReport.objects.filter(invoice=row.invoice, done_at=None, pk__lt=row.pk).exists()


def _client(installation: Installation) -> SaleorClient:
    return SaleorClient(installation.saleor_api_url, installation.token)


def _payment_method(row: OutboxReport) -> str:
    """The coin the shopper paid with, for a Saleor that takes paymentMethodDetails."""
    coin = row.invoice.pay_currency
    if row.event_type != "CHARGE_SUCCESS" or not coin:
        return ""
    if not at_least(row.installation.saleor_version, PAYMENT_METHOD_DETAILS):
        return ""
    return f"Cryptocurrency ({coin.upper()})"


def _deliver(row: OutboxReport) -> str:
    invoice = row.invoice
    client = _client(row.installation)
    if row.kind == OutboxReport.EVENT:
        already = client.report_event(
            transaction_id=invoice.transaction_id or "",
            psp_reference=row.psp_reference or invoice.provider_invoice_id or "",
            event_type=row.event_type,
            amount=row.amount,
            currency=invoice.currency,
            message=row.message,
            external_url=_external_url(row),
            payment_method=_payment_method(row),
        )
        return f"{row.event_type} already processed" if already else f"{row.event_type} reported"
    order_id, number = client.checkout_complete(global_id("Checkout", invoice.checkout_token or ""))
    return _record_order(invoice, order_id, number)


def _external_url(row: OutboxReport) -> str:
    url = row.invoice.payment_url
    return url if url.startswith("http") and not row.psp_reference else ""


def _record_order(invoice: Invoice, order_id: Optional[str], number: str) -> str:
    _, order_pk = from_global_id(order_id or "")
    if order_pk:  # the number is what the claim page shows the shopper
        Invoice.objects.filter(pk=invoice.pk).update(
            order_id=order_pk[:36], order_number=number[:32]
        )
    return f"order {order_id}"


def _refused(row: OutboxReport, exc: SaleorRefused) -> str:
    invoice = row.invoice
    if row.kind == OutboxReport.COMPLETE:
        # paid, but Saleor will not make the order (total changed, stock gone…):
        # the charge is on the transaction; a person decides
        message = f"Paid, but checkoutComplete was refused: {exc}"
        invoice.flag(PAID_NO_ORDER, reason=message)
        invoice.save(update_fields=["flags", "needs_attention", "attention_reason", "updated_at"])
        open_task(invoice, PAID_NO_ORDER, message)
        problems.report(row.installation, problems.PAID_NO_ORDER, message)
        row.done_at = timezone.now()
        row.result = f"refused: {exc}"[:2000]
        row.save(update_fields=["attempts", "last_attempt_at", "done_at", "result"])
        return f"refused {row}: {exc}"
    # a refused report is kept and retried (a token re-issued by a reinstall,
    # a transaction Saleor cannot find yet) and put in front of staff
    row.last_error = f"refused: {exc}"[:2000]
    row.save(update_fields=["attempts", "last_attempt_at", "last_error"])
    open_task(invoice, REPORT_REFUSED, f"Saleor refused {row.event_type}: {exc}")
    problems.report(row.installation, problems.REPORT_REFUSED, f"Saleor refused {row}: {exc}")
    logger.warning("cryptopay-app: Saleor refused %s: %s", row, exc)
    return f"refused {row}: {exc}"


def _refusal_resolved(row: OutboxReport) -> None:
    """Saleor took a report it had refused: the problem goes once none is left."""
    others = OutboxReport.objects.filter(
        installation=row.installation, done_at=None, last_error__startswith="refused"
    ).exclude(pk=row.pk)
    if not others.exists():
        problems.dismiss(row.installation, problems.REPORT_REFUSED)
