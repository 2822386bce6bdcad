"""Per-channel configuration: the Dashboard fields and their parsed form."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Optional
from urllib.parse import urlsplit

AFTER_PAYMENT = "after_payment"  # order created once paid (action-required flow)
BEFORE_PAYMENT = "before_payment"  # order created unpaid at once, charged on callback
ORDER_CREATION_CHOICES = (AFTER_PAYMENT, BEFORE_PAYMENT)
TEMPLATE_FIELDS = ("reference", "channel", "checkout", "amount", "currency")
DEFAULT_TITLE = "Order {reference}"
DEFAULT_DESCRIPTION = "Payment {reference} in {channel}"
MAX_TOLERANCE_PERCENT = Decimal(10)

CALLBACK_PATH = "/callback"
CLAIM_PREFIX = "/claim/"
REFUND_RATES = ("invoice", "current")
ICOINPAY_LIVE_URL = "https://icoinpay.com/api/v1"


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


COMMON_DEFAULTS = [
    {"name": "supported_currencies", "value": "USD"},
    {"name": "order_creation", "value": AFTER_PAYMENT},
    {"name": "underpaid_tolerance_percent", "value": "0"},
    {"name": "invoice_title", "value": DEFAULT_TITLE},
    {"name": "invoice_description", "value": DEFAULT_DESCRIPTION},
    {"name": "reconcile_calls_per_run", "value": "20"},
    {"name": "callback_url", "value": ""},
    {"name": "setup_status", "value": ""},
]


@dataclass(frozen=True)
class GatewaySettings:
    api_base_url: str
    supported_currencies: list[str]
    order_creation: str
    underpaid_tolerance: Decimal  # a fraction: 0.01 = 1 %
    title_template: str
    description_template: str
    reconcile_calls_per_run: int
    values: dict[str, Any] = field(default_factory=dict, repr=False)

    def get(self, name: str, default: str = "") -> str:
        value = self.values.get(name)
        return default if value in (None, "") else str(value).strip()


def as_dict(configuration: list[dict]) -> dict[str, Any]:
    return {item["name"]: item.get("value") for item in configuration}


def parse_settings(values: dict[str, Any], default_base_url: str) -> GatewaySettings:
    """Lenient parse for running: anything invalid falls back to a safe default
    (validation refuses invalid values when the merchant saves them)."""
    tolerance = parse_tolerance(values.get("underpaid_tolerance_percent"))
    order_creation = str(values.get("order_creation") or AFTER_PAYMENT).strip()
    return GatewaySettings(
        api_base_url=str(values.get("api_base_url") or default_base_url).strip(),
        supported_currencies=parse_currencies(values.get("supported_currencies")),
        order_creation=order_creation
        if order_creation in ORDER_CREATION_CHOICES
        else AFTER_PAYMENT,
        underpaid_tolerance=(tolerance or Decimal(0)) / 100,
        title_template=str(values.get("invoice_title") or DEFAULT_TITLE),
        description_template=str(values.get("invoice_description") or DEFAULT_DESCRIPTION),
        reconcile_calls_per_run=parse_positive_int(values.get("reconcile_calls_per_run")) or 20,
        values=dict(values),
    )


def parse_currencies(value: Any) -> list[str]:
    return [c.strip().upper() for c in str(value or "").split(",") if c.strip()]


def parse_tolerance(value: Any) -> Optional[Decimal]:
    try:
        result = Decimal(str(value if value not in (None, "") else "0").strip())
    except InvalidOperation:
        return None
    if not result.is_finite() or not 0 <= result <= MAX_TOLERANCE_PERCENT:
        return None
    return result


def parse_positive_int(value: Any) -> Optional[int]:
    try:
        result = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return result if result > 0 else None


def template_error(template: str) -> Optional[str]:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    except ValueError as exc:
        return f"Invalid template: {exc}"
    unknown = sorted(set(names) - set(TEMPLATE_FIELDS))
    if unknown:
        return f"Unknown placeholders: {', '.join(unknown)}. Use {', '.join(TEMPLATE_FIELDS)}."
    return None


def render(template: str, **values: Any) -> str:
    if template_error(template):
        template = DEFAULT_TITLE
    return template.format(**{k: values.get(k, "") for k in TEMPLATE_FIELDS})


def url_error(value: Any) -> Optional[str]:
    parts = urlsplit(str(value or ""))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "Enter an http(s) URL."
    return None
