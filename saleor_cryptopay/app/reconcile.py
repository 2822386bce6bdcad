"""Reconciliation for the App: every open invoice of every active channel
configuration, brought up to date like a callback would, then every report
Saleor is still owed is sent again."""

from __future__ import annotations

import logging
from typing import Optional

from ..lifecycle import Expected, decide
from ..providers.errors import ProviderError
from ..providers.quota import BACKGROUND
from ..reconcile import open_invoices, plan_sweep
from . import outbox
from .flow import sync_invoice
from .models import ChannelConfiguration, Heartbeat
from .saleor_api import normalise_api_url

logger = logging.getLogger(__name__)


def reconcile_config(config: ChannelConfiguration, *, dry_run: bool = False) -> list[str]:
    url = config.installation.saleor_api_url
    invoices = [
        i for i in open_invoices(config.provider, config.channel_slug) if i.saleor_api_url == url
    ]
    lines = [f"{config}: {len(invoices)} open"]
    if not invoices:
        return lines
    bridge = config.build_bridge(BACKGROUND)
    transport = bridge.client.http  # type: ignore[attr-defined]
    transport.budget = config.settings.reconcile_calls_per_run
    tolerance = config.settings.underpaid_tolerance
    plan = plan_sweep(bridge, invoices)
    if plan.error:
        lines.append(f"  error: {plan.error}")
    todo = [invoice for invoice, _ in plan.changed]
    if not dry_run and plan.error is None:
        todo += plan.unlisted
    for invoice, observed in plan.changed:
        if dry_run:
            expected = Expected(invoice.amount, invoice.currency, tolerance)
            decision = decide(invoice.payment_status, observed.observation, expected)
            lines.append(f"  {invoice.provider_invoice_id}: would {decision.action}")
    if dry_run:
        return lines
    for invoice in todo:
        try:
            # a list entry is a hint: re-read before moving money
            result = sync_invoice(invoice.pk, config, bridge=bridge)
        except ProviderError as exc:
            lines.append(f"  error {invoice.provider_invoice_id}: {exc}")
            if exc.code in ("budget", "rate_limited"):
                break
            continue
        if not result.startswith("nothing"):
            lines.append(f"  {invoice.provider_invoice_id}: {result}")
    lines.append(f"  {transport.calls} API calls, {plan.unchanged} unchanged")
    return lines


def reconcile_all(
    *,
    saleor_api_url: Optional[str] = None,
    channel: Optional[str] = None,
    provider: Optional[str] = None,
    dry_run: bool = False,
) -> list[str]:
    configs = ChannelConfiguration.objects.filter(active=True).select_related("installation")
    if saleor_api_url:
        configs = configs.filter(installation__saleor_api_url=normalise_api_url(saleor_api_url))
    if channel:
        configs = configs.filter(channel_slug=channel)
    if provider:
        configs = configs.filter(provider=provider)
    lines: list[str] = []
    broken = 0
    for config in configs:
        try:
            lines += reconcile_config(config, dry_run=dry_run)
        except Exception:  # one broken configuration must not stop the others
            logger.exception("cryptopay-app: reconcile failed for %s", config)
            lines.append(f"{config}: internal error (see logs)")
            broken += 1
    if not dry_run:
        lines += outbox.flush()
        if not broken:  # /api/health shows the last run that went through
            Heartbeat.beat("reconcile", f"{len(configs)} configuration(s)")
    if not lines:
        lines.append("No active channel configuration.")
    return lines
