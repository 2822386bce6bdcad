"""Apply reconciliation: every open invoice of every active crypto gateway
configuration, brought up to date exactly like a callback would."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional

from saleor.plugins.manager import get_plugins_manager
from saleor.plugins.models import PluginConfiguration

from ..lifecycle import Expected, decide
from ..providers.errors import ProviderError
from ..providers.quota import BACKGROUND
from ..reconcile import open_invoices, plan_sweep
from .base import CryptoGatewayPlugin
from .coinpay24 import CoinPay24Plugin
from .coinpay_th import CoinPayThPlugin
from .payments import sync_invoice

logger = logging.getLogger(__name__)

PLUGIN_CLASSES: tuple[type[CryptoGatewayPlugin], ...] = (CoinPay24Plugin, CoinPayThPlugin)


@dataclass
class Report:
    provider: str
    channel: str
    open_invoices: int = 0
    calls: int = 0
    unchanged: int = 0
    actions: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retry_after: Optional[float] = None

    def summary(self) -> str:
        lines = [
            f"{self.provider} @ {self.channel}: {self.open_invoices} open, {self.calls} API calls, "
            f"{len(self.actions)} updated, {self.unchanged} unchanged, "
            f"{len(self.unknown)} unknown paid, {len(self.errors)} errors"
        ]
        lines += [f"  updated {a}" for a in self.actions]
        lines += [f"  UNKNOWN (paid at provider, no local invoice): {u}" for u in self.unknown]
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def reconcile_plugin(
    plugin: CryptoGatewayPlugin, *, dry_run: bool = False, exhaustive: bool = False
) -> Report:
    channel = plugin.channel_slug
    report = Report(plugin.PROVIDER, channel)
    invoices = open_invoices(plugin.PROVIDER, channel)
    report.open_invoices = len(invoices)
    if not invoices:
        return report
    bridge = plugin.build_bridge(BACKGROUND)
    transport = bridge.client.http
    transport.budget = plugin.settings.reconcile_calls_per_run
    tolerance = plugin.settings.underpaid_tolerance

    plan = plan_sweep(bridge, invoices, exhaustive=exhaustive)
    report.unchanged = plan.unchanged
    report.unknown = [
        f"{o.provider_invoice_id} ({o.observation.status}, reference {o.reference or '-'})"
        for o in plan.unknown
    ]
    if plan.error:
        _record_error(report, plan.error)

    for invoice, observed in plan.changed:
        if dry_run:
            expected = Expected(invoice.amount, invoice.currency, tolerance)
            decision = decide(invoice.payment_status, observed.observation, expected)
            report.actions.append(
                f"{invoice.provider_invoice_id}: would {decision.action} ({decision.reason})"
            )
            continue
        # a list entry is a hint: re-read before moving money (+1 call)
        if not _sync(report, invoice, bridge, tolerance):
            break
    if not dry_run and plan.error is None:
        for invoice in plan.unlisted:
            if not _sync(report, invoice, bridge, tolerance):
                break
    report.calls = transport.calls
    logger.info("cryptopay reconcile: %s", report.summary().splitlines()[0])
    return report


def _sync(report: Report, invoice, bridge, tolerance) -> bool:
    """Returns False when the run must stop (budget spent, rate limited)."""
    try:
        result = sync_invoice(invoice.pk, bridge, tolerance, origin="reconcile")
    except ProviderError as exc:
        _record_error(report, exc, invoice.provider_invoice_id)
        return exc.code not in ("budget", "quota", "rate_limited")
    if not result.startswith("no change"):
        report.actions.append(f"{invoice.provider_invoice_id}: {result}")
    return True


def _record_error(report: Report, exc: ProviderError, ref: str = "") -> None:
    report.errors.append(f"{ref + ': ' if ref else ''}{exc}")
    if exc.retry_after:
        report.retry_after = exc.retry_after


def active_plugins(
    channel: Optional[str] = None, provider: Optional[str] = None
) -> list[CryptoGatewayPlugin]:
    manager = get_plugins_manager(allow_replica=False)
    plugins = []
    for cls in PLUGIN_CLASSES:
        if provider and provider != cls.PROVIDER:
            continue
        configs = PluginConfiguration.objects.filter(
            identifier=cls.PLUGIN_ID, active=True, channel__isnull=False
        ).select_related("channel")
        if channel:
            configs = configs.filter(channel__slug=channel)
        for config in configs:
            plugin = manager.get_plugin(cls.PLUGIN_ID, channel_slug=config.channel.slug)
            if plugin is not None and plugin.active:
                plugins.append(plugin)
    return plugins


def reconcile_all(
    *,
    channel: Optional[str] = None,
    provider: Optional[str] = None,
    dry_run: bool = False,
    exhaustive: bool = False,
) -> list[Report]:
    reports = []
    for plugin in active_plugins(channel, provider):
        try:
            reports.append(reconcile_plugin(plugin, dry_run=dry_run, exhaustive=exhaustive))
        except Exception:  # one broken channel must not stop the others
            logger.exception("cryptopay reconcile failed for %s", plugin.channel_slug)
            report = Report(plugin.PROVIDER, plugin.channel_slug)
            report.errors.append("internal error (see logs)")
            reports.append(report)
    return reports
