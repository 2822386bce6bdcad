"""Reconciliation planning: which open invoices changed at the provider.

One list call per page (up to 100 invoices) instead of one read per invoice;
invoices the lists did not show are read one by one afterwards, within the
run's call budget. No Saleor here: ``plugin/reconcile.py`` applies the plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional

from .bridges.base import Observed, ProviderBridge
from .models import OPEN_STATUSES, Invoice
from .providers.errors import ProviderError


@dataclass
class SweepPlan:
    changed: list[tuple[Invoice, Observed]] = field(default_factory=list)
    unchanged: int = 0
    unlisted: list[Invoice] = field(default_factory=list)  # not in any list answer
    unknown: list[Observed] = field(default_factory=list)  # paid at the provider, not ours
    error: Optional[ProviderError] = None  # the sweep stopped early


def open_invoices(provider: str, channel_slug: Optional[str] = None) -> list[Invoice]:
    """Invoices that may still receive money: open, underpaid, or replaced but
    not closed (a shopper may pay an old invoice)."""
    qs = Invoice.objects.filter(provider=provider, status__in=OPEN_STATUSES)
    if channel_slug:
        qs = qs.filter(channel_slug=channel_slug)
    return list(qs.exclude(provider_invoice_id=None).order_by("created_at"))


def plan_sweep(
    bridge: ProviderBridge, invoices: Iterable[Invoice], *, exhaustive: bool = False
) -> SweepPlan:
    invoices = list(invoices)
    plan = SweepPlan()
    if not invoices:
        return plan
    by_id = {inv.provider_invoice_id: inv for inv in invoices}
    seen: set[str] = set()
    foreign: list[Observed] = []
    try:
        for observed in bridge.sweep(invoices, exhaustive=exhaustive):
            invoice = by_id.get(observed.provider_invoice_id)
            if invoice is None:
                if observed.observation.status.has_money:
                    foreign.append(observed)
                continue
            seen.add(observed.provider_invoice_id)
            if observed.observation.status.value == invoice.status:
                plan.unchanged += 1
            else:
                plan.changed.append((invoice, observed))
    except ProviderError as exc:
        plan.error = exc
    plan.unlisted = [inv for ref, inv in by_id.items() if ref not in seen]
    if foreign:
        known = set(
            Invoice.objects.filter(
                provider=bridge.provider,
                provider_invoice_id__in=[o.provider_invoice_id for o in foreign],
            ).values_list("provider_invoice_id", flat=True)
        )
        plan.unknown = [o for o in foreign if o.provider_invoice_id not in known]
    return plan
