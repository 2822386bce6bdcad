"""Build a provider bridge from saved gateway settings (no Saleor)."""

from __future__ import annotations

from ..gateway_config import GatewaySettings
from ..nonce_db import DatabaseNonce
from ..providers import coinpay24, coinpay_th
from ..providers.quota import CHECKOUT
from ..quota import attach
from .base import ProviderBridge
from .coinpay24 import CoinPay24Bridge
from .coinpay_th import CoinPayThBridge

LIVE_BASE_URLS = {"coinpay24": coinpay24.LIVE_BASE_URL, "coinpay_th": coinpay_th.LIVE_BASE_URL}
ACTION_SETS = {"official": coinpay_th.DEFAULT_ACTIONS, "docs": coinpay_th.DOCS_ACTIONS}


def build_bridge(
    provider: str, settings: GatewaySettings, priority: str = CHECKOUT
) -> ProviderBridge:
    """Its calls draw on the key's shared quota at ``priority``
    (``providers.quota.PRIORITIES``), the budget the plugin uses too."""
    key = settings.get("api_key")
    if provider == "coinpay24":
        client = coinpay24.CoinPay24Client(key, base_url=settings.api_base_url)
        attach(client.http, key, priority)
        return CoinPay24Bridge(client, pay_currency=settings.get("white_label_currency"))
    if provider == "coinpay_th":
        th_client = coinpay_th.CoinPayThClient(
            key,
            settings.get("api_secret"),
            base_url=settings.api_base_url,
            nonce_source=DatabaseNonce(key),
            actions=ACTION_SETS.get(settings.get("action_names", "official")),
        )
        attach(th_client.http, key, priority)
        keep = settings.get("keep_percent")
        return CoinPayThBridge(th_client, keep=int(keep) if keep.isdigit() else None)
    raise ValueError(f"unknown provider {provider!r}")


def check_credentials(bridge: ProviderBridge) -> None:
    """One cheap authenticated call; raises ProviderError when the provider
    refuses the credentials or cannot be reached. (To be replaced by the
    shared ``setup_checks`` at merge.)"""
    client = bridge.client  # type: ignore[attr-defined]
    if bridge.provider == "coinpay24":
        client.list_invoices(page=1, per_page=1)
    else:
        client.balance()
