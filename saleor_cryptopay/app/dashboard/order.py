"""The order extension: this order's crypto payment (provider, invoice, coins
received, what happened when) and its refunds with their claim links. Shown
in the order page's widget (Saleor 3.22+) or its "more actions" popup."""

from __future__ import annotations

from typing import Optional

from django.db.models import Q
from django.http import HttpRequest

from ...models import CallbackEvent, Invoice, RefundRequest
from ...refunds import editions
from ..models import OutboxReport
from ..saleor_api import from_global_id
from .auth import Staff
from .html import Flash, coins, copyable, e, money, page, table


def invoices_of(staff: Staff, order_global_id: str):
    type_name, pk = from_global_id(order_global_id)
    if type_name != "Order" or not pk:
        return Invoice.objects.none()
    return Invoice.objects.filter(
        saleor_api_url=staff.installation.saleor_api_url, order_id=pk
    ).order_by("created_at")


def render(staff: Staff, request: HttpRequest, flash: Optional[Flash]) -> str:
    invoices = list(invoices_of(staff, request.GET.get("orderId", "")))
    if not invoices:
        body = "<p class='help'>No crypto payment for this order.</p>"
    else:
        body = "".join(_invoice(i) for i in invoices)
    return page("Crypto payment", body, current="order", flash=flash)


def _invoice(invoice: Invoice) -> str:
    received = (
        coins(invoice.received_amount, invoice.pay_currency)
        if invoice.received_amount is not None
        else "nothing yet"
    )
    facts = (
        f"<section data-invoice='{invoice.pk}'><p><strong>{e(invoice.provider)}</strong> "
        f"invoice <code>{e(invoice.provider_invoice_id)}</code>: <strong>{e(invoice.status)}"
        f"</strong></p><p>{money(invoice.amount, invoice.currency)} asked as "
        f"{coins(invoice.pay_amount, invoice.pay_currency)}; received {received}.</p>"
    )
    if invoice.attention_reason:
        facts += f"<p class='unknown'>{e(invoice.attention_reason)}</p>"
    return facts + _history(invoice) + _refunds(invoice) + "</section>"


def _history(invoice: Invoice) -> str:
    events = [
        (c.received_at, f"provider callback: {c.outcome}", c.result)
        for c in CallbackEvent.objects.filter(
            Q(invoice=invoice) | Q(provider_invoice_id=invoice.provider_invoice_id or "-"),
            provider=invoice.provider,
        )
    ] + [
        (r.created_at, f"to Saleor: {r.event_type or r.kind}", _sent(r))
        for r in OutboxReport.objects.filter(invoice=invoice)
    ]
    rows = [
        f"<tr><td>{at:%Y-%m-%d %H:%M:%S}</td><td>{e(what)}</td><td>{e(detail[:200])}</td></tr>"
        for at, what, detail in sorted(events, key=lambda item: item[0])
    ]
    return "<h2>History</h2>" + table(("When (UTC)", "What", "Result"), rows, "Nothing yet.")


def _sent(report: OutboxReport) -> str:
    if report.done_at:
        return f"sent: {report.result}"
    return f"pending ({report.attempts} attempts) {report.last_error}"


def _refunds(invoice: Invoice) -> str:
    edition = editions.load()
    rows = []
    for r in RefundRequest.objects.filter(invoice=invoice).order_by("pk"):
        link = ""
        if r.status == RefundRequest.Status.AWAITING_ADDRESS and r.claim_nonce and edition:
            link = copyable(edition.claim_url(r))
        rows.append(
            f"<tr data-refund='{r.pk}'><td>#{r.pk}</td><td>{e(r.status)}</td>"
            f"<td>{money(r.amount, r.currency)} = {coins(r.crypto_amount, r.coin)}</td>"
            f"<td>{link}</td></tr>"
        )
    return "<h2>Refunds</h2>" + table(
        ("Refund", "Status", "Amount", "Claim link"), rows, "No refunds."
    )
