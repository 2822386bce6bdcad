"""The operations page: open staff tasks first, then refunds, then recent
provider callbacks, each with the actions ``cryptopay-app tasks / refunds /
replay`` offer, through the same core functions."""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from django.db.models import Q
from django.http import HttpRequest

from ...models import CallbackEvent, RefundRequest, StaffTask
from ...refunds import editions
from ...refunds import request as core
from ...staff_tasks import TaskNotOpen, resolve_task
from .. import problems
from ..callbacks import replay_event
from ..models import ChannelConfiguration
from ..outbox import PAID_NO_ORDER
from .auth import Staff
from .html import Flash, coins, copyable, e, hidden, money, page, table

S = RefundRequest.Status
RECENT_CALLBACKS = 50
UNKNOWN_RULE = (
    "Outcome unknown: the provider's answer was lost, so the coins may or may not have "
    "left. It is never retried by itself. Check the iCoinPay wallet's payouts: if it was "
    "paid, record it as sent with the transaction id; if not, retry it as not sent."
)


def tasks(staff: Staff):
    return StaffTask.objects.select_related("invoice").filter(
        invoice__saleor_api_url=staff.installation.saleor_api_url
    )


def refunds(staff: Staff):
    return RefundRequest.objects.select_related("invoice").filter(
        invoice__saleor_api_url=staff.installation.saleor_api_url
    )


def callbacks(staff: Staff):
    paths = [
        urlsplit(c.callback_url).path
        for c in ChannelConfiguration.objects.filter(installation=staff.installation)
    ]
    return CallbackEvent.objects.filter(
        Q(invoice__saleor_api_url=staff.installation.saleor_api_url) | Q(path__in=paths)
    )


def render(staff: Staff, request: HttpRequest, flash: Optional[Flash]) -> str:
    body = _tasks(staff) + _refunds(staff) + _callbacks(staff)
    return page("Operations", body, current="operations", flash=flash)


def _tasks(staff: Staff) -> str:
    rows = [
        f"<tr data-task='{t.pk}'><td>#{t.pk}</td><td>{e(t.kind)}</td>"
        f"<td>{e(t.invoice.provider)} {e(t.invoice.provider_invoice_id)}<br>"
        f"{money(t.invoice.amount, t.invoice.currency)}, order {e(t.invoice.order_id or '-')}</td>"
        f"<td>{e(t.message)}</td><td><form data-action='resolve-task' class='inline'>"
        f"{hidden('task', t.pk)}<input name='note' placeholder='What you did' required>"
        "<button>Resolve</button></form></td></tr>"
        for t in tasks(staff).filter(resolved_at=None).order_by("created_at")
    ]
    return "<h2>Open tasks</h2>" + table(
        ("Task", "Kind", "Payment", "What happened", ""), rows, "Nothing needs attention."
    )


def _refunds(staff: Staff) -> str:
    edition = editions.load()
    rows = []
    for r in refunds(staff).order_by("-pk")[:100]:
        details = [f"{money(r.amount, r.currency)} = {coins(r.crypto_amount, r.coin)}"]
        if r.address:
            details.append(f"to <code>{e(r.address)}</code>")
        if r.payout_id or r.txid:
            details.append(f"payout <code>{e(r.payout_id or r.txid)}</code>")
        if r.refused_reason:
            details.append(f"<span class='refused'>{e(r.refused_reason)}</span>")
        if r.status == S.NEEDS_ATTENTION:
            details.append(f"<span class='unknown'>{e(UNKNOWN_RULE)}</span>")
        if r.status == S.AWAITING_ADDRESS and r.claim_nonce and edition is not None:
            details.append(f"claim link: {copyable(edition.claim_url(r))}")
        rows.append(
            f"<tr data-refund='{r.pk}'><td>#{r.pk}</td><td>{e(r.status)}</td>"
            f"<td>{'<br>'.join(details)}</td><td>{_refund_actions(r)}</td></tr>"
        )
    return "<h2>Refunds</h2>" + table(
        ("Refund", "Status", "Details", ""), rows, "No crypto refunds yet."
    )


def _form(action: str, refund: RefundRequest, inner: str, button: str) -> str:
    return (
        f"<form data-action='{action}' class='inline'>{hidden('refund', refund.pk)}{inner}"
        f"<button>{e(button)}</button></form>"
    )


def _refund_actions(r: RefundRequest) -> str:
    forms = []
    if r.status == S.AWAITING_ADDRESS:
        forms.append(_form("refund-new-link", r, "", "New claim link"))
    if r.status in (S.AWAITING_ADDRESS, S.FAILED):
        forms.append(
            _form(
                "refund-address", r, "<input name='address' placeholder='Address'>", "Set address"
            )
        )
    if r.status == S.FAILED:
        forms.append(_form("refund-retry", r, "", "Retry"))
    if r.status == S.NEEDS_ATTENTION:
        forms.append(_form("refund-retry", r, hidden("not_sent", "1"), "Not sent: retry"))
    if r.status in (S.AWAITING_ADDRESS, S.QUEUED, S.FAILED, S.NEEDS_ATTENTION):
        forms.append(
            _form("refund-mark-sent", r, "<input name='txid' placeholder='txid'>", "Mark sent")
        )
    return "".join(forms)


def _callbacks(staff: Staff) -> str:
    rows = []
    for c in callbacks(staff).order_by("-received_at")[:RECENT_CALLBACKS]:
        replay = ""
        if c.outcome in (CallbackEvent.Outcome.FAILED, CallbackEvent.Outcome.RECEIVED):
            replay = (
                f"<form data-action='replay-callback' class='inline'>{hidden('event', c.pk)}"
                "<button>Replay</button></form>"
            )
        rows.append(
            f"<tr data-callback='{c.pk}'><td>#{c.pk}</td><td>{c.received_at:%Y-%m-%d %H:%M:%S}"
            f"</td><td>{e(c.provider)} {e(c.provider_invoice_id)}</td><td>{e(c.outcome)}</td>"
            f"<td>{e(c.result[:300])}</td><td>{replay}</td></tr>"
        )
    return "<h2>Recent provider callbacks</h2>" + table(
        ("Callback", "Received (UTC)", "Invoice", "Outcome", "Result", ""),
        rows,
        "No provider callbacks yet.",
    )


def _int(request: HttpRequest, name: str) -> int:
    value = request.POST.get(name, "")
    return int(value) if value.isdigit() else 0


def resolve(staff: Staff, request: HttpRequest) -> tuple[str, Flash]:
    task_id = _int(request, "task")
    if not tasks(staff).filter(pk=task_id).exists():
        return "operations", Flash("error", "No such task.")
    try:
        task = resolve_task(task_id, note=request.POST.get("note", ""), by=staff.user)
    except TaskNotOpen as exc:
        return "operations", Flash("error", str(exc))
    if (
        task.kind == PAID_NO_ORDER
        and not tasks(staff).filter(kind=PAID_NO_ORDER, resolved_at=None).exists()
    ):
        problems.dismiss(staff.installation, problems.PAID_NO_ORDER)
    return "operations", Flash("success", f"Task #{task_id} resolved.")


def refund_action(kind: str):
    """The ``cryptopay_refunds`` actions, on this installation's refunds only."""

    def act(staff: Staff, request: HttpRequest) -> tuple[str, Flash]:
        refund = refunds(staff).filter(pk=_int(request, "refund")).first()
        if refund is None:
            return "operations", Flash("error", "No such refund.")
        edition = editions.load()
        try:
            text = _refund(kind, refund, request, staff, edition)
        except core.RefundError as exc:
            return "operations", Flash("error", str(exc))
        except core.AddressRejected as exc:
            return "operations", Flash("error", f"Address refused: {exc}")
        return "operations", Flash("success", text)

    return act


def _refund(kind: str, refund: RefundRequest, request: HttpRequest, staff: Staff, edition) -> str:
    if kind == "retry":
        refund = core.retry(refund.pk, not_sent=bool(request.POST.get("not_sent")))
        return f"Refund #{refund.pk} queued again."
    if kind == "mark-sent":
        refund = core.mark_sent(refund.pk, txid=request.POST.get("txid", ""), by=staff.user)
        if edition is not None:
            edition.record_sent(refund)
        return f"Refund #{refund.pk} recorded as sent ({refund.txid})."
    if kind == "address":
        checker = edition.payout_client(refund) if edition else None
        address = request.POST.get("address", "").strip()
        refund = core.set_address(refund.pk, address, by=staff.user, checker=checker)
        return f"Refund #{refund.pk} queued to {refund.address}."
    refund = core.renew_claim(refund.pk)
    return f"Refund #{refund.pk} has a new claim link."


def replay(staff: Staff, request: HttpRequest) -> tuple[str, Flash]:
    event_id = _int(request, "event")
    if not callbacks(staff).filter(pk=event_id).exists():
        return "operations", Flash("error", "No such callback.")
    try:
        outcome, result = replay_event(event_id)
    except LookupError as exc:
        return "operations", Flash("error", str(exc))
    status = "success" if outcome == CallbackEvent.Outcome.PROCESSED else "warning"
    return "operations", Flash(status, f"Callback #{event_id} replayed: {outcome}: {result}")
