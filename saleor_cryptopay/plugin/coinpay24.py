from __future__ import annotations

from saleor.plugins.base_plugin import ConfigurationTypeField as T

from ..bridges.coinpay24 import CoinPay24Bridge
from ..providers.coinpay24 import LIVE_BASE_URL, CoinPay24Client
from ..providers.quota import CHECKOUT
from ..quota import attach
from .base import CryptoGatewayPlugin, defaults, structure


class CoinPay24Plugin(CryptoGatewayPlugin):
    PLUGIN_ID = "saleor_cryptopay.coinpay24"
    PLUGIN_NAME = "CoinPay24"
    PLUGIN_DESCRIPTION = "Cryptocurrency payments through CoinPay24 invoices."
    PROVIDER = "coinpay24"
    LIVE_BASE_URL = LIVE_BASE_URL
    CONFIG_STRUCTURE = structure(
        {
            "api_key": {
                "type": T.SECRET,
                "label": "API key",
                "help_text": "From your CoinPay24 account. Also signs the callbacks.",
            },
            "white_label_currency": {
                "type": T.STRING,
                "label": "White-label coin",
                "help_text": "Leave empty to send shoppers to CoinPay24's payment page. "
                "Set a coin (e.g. BTC) to fix it at checkout and get the address and "
                "amount for your own page.",
            },
        }
    )
    DEFAULT_CONFIGURATION = defaults(
        [{"name": "api_key", "value": None}, {"name": "white_label_currency", "value": ""}],
        LIVE_BASE_URL,
    )

    def build_bridge(self, priority: str = CHECKOUT) -> CoinPay24Bridge:
        key = self.settings.get("api_key")
        client = CoinPay24Client(key, base_url=self.settings.api_base_url)
        attach(client.http, key, priority)
        return CoinPay24Bridge(client, pay_currency=self.settings.get("white_label_currency"))

    def process_payment(self, payment_information, previous_value):
        if not self.active:
            return previous_value
        return self._process_payment(payment_information)
