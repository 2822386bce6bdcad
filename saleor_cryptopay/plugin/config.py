"""The plugin's Dashboard fields: their descriptions and defaults. Parsing
and validation are the core's (``gateway_config``), shared with the App."""

from __future__ import annotations

from typing import Any

from ..gateway_config import COMMON_FIELDS, DEFAULTS
from ..refunds.settings import ICOINPAY_LIVE_URL

CALLBACK_PATH = "/callback"
CLAIM_PREFIX = "/claim/"
PAY_PREFIX = "/pay/"  # the shopper's payment page (payment_page/)


def common_structure(string_type: str, output_type: str) -> dict:
    """Fields every gateway has (types passed in: no Saleor import here)."""
    return {
        "api_base_url": {
            "type": string_type,
            "label": "API base URL",
            "help_text": "Provider API root. Leave the default for live payments; "
            "point it at the sandbox (cryptopay-sandbox) to test.",
        },
        "supported_currencies": {
            "type": string_type,
            "label": "Supported currencies",
            "help_text": "Comma-separated ISO codes the gateway is offered for, e.g. USD,EUR.",
        },
        "order_creation": {
            "type": string_type,
            "label": "Order creation",
            "help_text": "after_payment (default): the order is created when the payment "
            "arrives. before_payment: the order is created unpaid at checkout and "
            "charged when the payment arrives.",
        },
        "underpaid_tolerance_percent": {
            "type": string_type,
            "label": "Underpayment tolerance (%)",
            "help_text": "A payment short by at most this percentage (0-10) is accepted "
            "as paid, e.g. to absorb network fees. 0 accepts only full payments.",
        },
        "invoice_title": {
            "type": string_type,
            "label": "Invoice title",
            "help_text": "Shown to the shopper. Placeholders: {reference} {channel} "
            "{checkout} {amount} {currency}.",
        },
        "invoice_description": {
            "type": string_type,
            "label": "Invoice description",
            "help_text": "Same placeholders as the title.",
        },
        "reconcile_calls_per_run": {
            "type": string_type,
            "label": "Reconciliation API calls per run",
            "help_text": "Upper bound of provider API calls one reconciliation run may "
            "make for this channel (keeps within the provider's quota).",
        },
        "callback_url": {
            "type": output_type,
            "label": "Callback URL",
            "help_text": "Where the provider sends payment notifications. Filled in "
            "automatically when the invoice is created; shown for reference.",
        },
        "setup_status": {
            "type": output_type,
            "label": "Setup check",
            "help_text": "What the last save found: the provider's answer to the "
            "credentials and whether callbacks can reach this shop. Re-run with "
            "python manage.py cryptopay_check.",
        },
    }


def refund_structure(string_type: str, secret_type: str) -> dict:
    """Refund payouts through an iCoinPay wallet (both gateways)."""
    return {
        "icoinpay_api_key": {
            "type": secret_type,
            "label": "iCoinPay API key (refund payouts)",
            "help_text": "Refunds are paid back from this iCoinPay wallet by a background "
            "queue. Leave empty to track refunds and send the coins by hand.",
        },
        "icoinpay_api_base_url": {
            "type": string_type,
            "label": "iCoinPay API base URL",
            "help_text": "Leave the default for live payouts; point it at the sandbox to test.",
        },
        "icoinpay_currency": {
            "type": string_type,
            "label": "Refund coin",
            "help_text": "The coin refunds are paid in when the invoice does not name one "
            "(e.g. BTC).",
        },
        "refund_rate": {
            "type": string_type,
            "label": "Refund exchange rate",
            "help_text": "invoice (default): the rate the shopper paid at. current: the "
            "provider's rate when the refund is made (CoinPay.in.th only).",
        },
        "refund_claim_days": {
            "type": string_type,
            "label": "Refund link lifetime (days)",
            "help_text": "How long the shopper's refund claim link works (1-90).",
        },
    }


REFUND_DEFAULTS = [
    {"name": "icoinpay_api_key", "value": ""},
    {"name": "icoinpay_api_base_url", "value": ICOINPAY_LIVE_URL},
    {"name": "icoinpay_currency", "value": "BTC"},
    {"name": "refund_rate", "value": "invoice"},
    {"name": "refund_claim_days", "value": "14"},
]


# Saleor fills missing fields from these; api_base_url is per gateway
COMMON_DEFAULTS = [
    *({"name": name, "value": DEFAULTS[name]} for name in COMMON_FIELDS if name in DEFAULTS),
    {"name": "callback_url", "value": ""},
    {"name": "setup_status", "value": ""},
]


def as_dict(configuration: list[dict]) -> dict[str, Any]:
    return {item["name"]: item.get("value") for item in configuration}
