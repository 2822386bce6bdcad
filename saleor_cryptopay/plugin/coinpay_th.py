from __future__ import annotations

from saleor.plugins.base_plugin import ConfigurationTypeField as T

from ..bridges.coinpay_th import CoinPayThBridge
from ..nonce_db import DatabaseNonce
from ..providers.coinpay_th import DEFAULT_ACTIONS, DOCS_ACTIONS, LIVE_BASE_URL, CoinPayThClient
from ..providers.quota import CHECKOUT
from ..quota import attach
from .base import CryptoGatewayPlugin, defaults, structure

ACTION_SETS = {"official": DEFAULT_ACTIONS, "docs": DOCS_ACTIONS}


class CoinPayThPlugin(CryptoGatewayPlugin):
    PLUGIN_ID = "saleor_cryptopay.coinpay_th"
    PLUGIN_NAME = "CoinPay.in.th"
    PLUGIN_DESCRIPTION = "Bitcoin payments through CoinPay.in.th orders (15-minute rate lock)."
    PROVIDER = "coinpay_th"
    LIVE_BASE_URL = LIVE_BASE_URL
    CONFIG_STRUCTURE = structure(
        {
            "api_key": {"type": T.SECRET, "label": "API key", "help_text": "From API Access."},
            "api_secret": {
                "type": T.SECRET,
                "label": "API secret",
                "help_text": "Shown once when the key is generated.",
            },
            "action_names": {
                "type": T.STRING,
                "label": "API action names",
                "help_text": "official (paybox/checkorder, as the provider's PHP class) or "
                "docs (create/check, as the published docs).",
            },
            "keep_percent": {
                "type": T.STRING,
                "label": "Keep as bitcoin (%)",
                "help_text": "0-100; empty uses the account setting.",
            },
        }
    )
    DEFAULT_CONFIGURATION = defaults(
        [
            {"name": "api_key", "value": None},
            {"name": "api_secret", "value": None},
            {"name": "action_names", "value": "official"},
            {"name": "keep_percent", "value": ""},
        ],
        LIVE_BASE_URL,
    )

    def build_bridge(self, priority: str = CHECKOUT) -> CoinPayThBridge:
        key = self.settings.get("api_key")
        client = CoinPayThClient(
            key,
            self.settings.get("api_secret"),
            base_url=self.settings.api_base_url,
            nonce_source=DatabaseNonce(key),
            actions=ACTION_SETS.get(self.settings.get("action_names", "official"), DEFAULT_ACTIONS),
        )
        attach(client.http, key, priority)
        keep = self.settings.get("keep_percent")
        return CoinPayThBridge(client, keep=int(keep) if keep.isdigit() else None)

    def process_payment(self, payment_information, previous_value):
        if not self.active:
            return previous_value
        return self._process_payment(payment_information)

    @classmethod
    def credential_check_options(cls, values: dict) -> dict:
        # the shop's shared nonce, so the check never races a checkout's call
        key = str(values.get("api_key") or "").strip()
        actions = ACTION_SETS.get(str(values.get("action_names") or "official"), DEFAULT_ACTIONS)
        return {"nonce_source": DatabaseNonce(key), "actions": actions}
