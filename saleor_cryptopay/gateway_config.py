"""Per-channel gateway settings without Saleor: parse and validate the
values both editions store (the plugin in Saleor's PluginConfiguration, the
App in its own table). The plugin's ``plugin/config.py`` holds only its
Dashboard field descriptions.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Optional
from urllib.parse import urlsplit

AFTER_PAYMENT = "after_payment"  # order created once paid (action-required flow)
BEFORE_PAYMENT = "before_payment"  # order created unpaid at once, charged on callback
ORDER_CREATION_CHOICES = (AFTER_PAYMENT, BEFORE_PAYMENT)
# The App completes the checkout only once paid (Saleor's transaction flow
# has no unpaid order to charge later), so it refuses before_payment
APP_ORDER_CREATION_CHOICES = (AFTER_PAYMENT,)
APP_ORDER_CREATION_REFUSED = (
    "The App creates the order when the invoice is paid (after_payment); "
    "before_payment is available in the plugin edition only."
)
TEMPLATE_FIELDS = ("reference", "channel", "checkout", "amount", "currency", "shop", "purchase")
# what the shopper knows: the shop (channel name) and their order or checkout,
# never Saleor's ids (a base64 transaction id overflowed the provider's page)
DEFAULT_TITLE = "{shop}"
DEFAULT_DESCRIPTION = "Payment for {purchase}"
# the defaults before 0.3, stored by every saved configuration: read as today's
LEGACY_TEMPLATES = {
    "Order {reference}": DEFAULT_TITLE,
    "Payment {reference} in {channel}": DEFAULT_DESCRIPTION,
}
MAX_TOLERANCE_PERCENT = Decimal(10)
ACTION_NAME_CHOICES = ("official", "docs")

PROVIDER_NAMES = {"coinpay24": "CoinPay24", "coinpay_th": "CoinPay.in.th"}
# credentials, kept encrypted by the App
SECRET_FIELDS = {"coinpay24": ("api_key",), "coinpay_th": ("api_key", "api_secret")}
PROVIDER_FIELDS = {
    "coinpay24": ("white_label_currency",),
    "coinpay_th": ("action_names", "keep_percent"),
}
COMMON_FIELDS = (
    "api_base_url",
    "supported_currencies",
    "order_creation",
    "underpaid_tolerance_percent",
    "invoice_title",
    "invoice_description",
    "reconcile_calls_per_run",
)
# refunds (``refunds/settings.py``): the iCoinPay key is optional, without it staff pay by hand
SECRET_REFUND_FIELDS = ("icoinpay_api_key",)
REFUND_FIELDS = ("icoinpay_api_base_url", "icoinpay_currency", "refund_rate", "refund_claim_days")
DEFAULTS = {
    "supported_currencies": "USD",
    "order_creation": AFTER_PAYMENT,
    "underpaid_tolerance_percent": "0",
    "invoice_title": DEFAULT_TITLE,
    "invoice_description": DEFAULT_DESCRIPTION,
    "reconcile_calls_per_run": "20",
    "white_label_currency": "",
    "action_names": "official",
    "keep_percent": "",
}


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


def parse_settings(
    values: dict[str, Any], default_base_url: str, *, default_currencies: str = "USD"
) -> GatewaySettings:
    """Lenient parse for running: invalid values fall back to safe defaults
    (``validate`` refuses them when they are saved). The plugin passes
    ``default_currencies=""``: Saleor fills in missing fields from its
    defaults, so an empty value there was stored and offers no currency."""
    tolerance = parse_tolerance(values.get("underpaid_tolerance_percent"))
    order_creation = str(values.get("order_creation") or AFTER_PAYMENT).strip()
    return GatewaySettings(
        api_base_url=str(values.get("api_base_url") or default_base_url).strip(),
        supported_currencies=parse_currencies(
            values.get("supported_currencies") or default_currencies
        ),
        order_creation=order_creation
        if order_creation in ORDER_CREATION_CHOICES
        else AFTER_PAYMENT,
        underpaid_tolerance=(tolerance or Decimal(0)) / 100,
        title_template=_template(values.get("invoice_title"), DEFAULT_TITLE),
        description_template=_template(values.get("invoice_description"), DEFAULT_DESCRIPTION),
        reconcile_calls_per_run=parse_positive_int(values.get("reconcile_calls_per_run")) or 20,
        values=dict(values),
    )


def _template(value: Any, default: str) -> str:
    text = str(value or default)
    return LEGACY_TEMPLATES.get(text.strip(), text)


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
    """Only plain ``{field}`` placeholders: a format spec or conversion
    (``{reference:>50000000}``, ``{amount!r}``) could render megabytes per
    invoice, and ``{}`` would fail at checkout."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"Invalid template: {exc}"
    fields = [(name, spec, conversion) for _, name, spec, conversion in parts if name is not None]
    if any(spec or conversion or not name for name, spec, conversion in fields):
        return f"Use plain placeholders only, e.g. {{reference}}: {', '.join(TEMPLATE_FIELDS)}."
    unknown = sorted({name for name, _, _ in fields} - set(TEMPLATE_FIELDS))
    if unknown:
        return f"Unknown placeholders: {', '.join(unknown)}. Use {', '.join(TEMPLATE_FIELDS)}."
    return None


def render(template: str, **values: Any) -> str:
    if template_error(template):
        template = DEFAULT_TITLE
    return template.format(**{k: values.get(k, "") for k in TEMPLATE_FIELDS})


def purchase_label(order_number: str = "", checkout_token: str = "") -> str:
    """The shopper's words for what they pay: their order number, else a short
    checkout reference (a checkout has no number; staff find it by its start)."""
    if order_number:
        return f"order #{order_number}"
    if checkout_token:
        return f"checkout {str(checkout_token)[:8].upper()}"
    return "your order"


def invoice_texts(
    settings: GatewaySettings,
    *,
    reference: str,
    channel: str,
    shop: str,
    order_number: str = "",
    checkout: str = "",
    amount: Any = "",
    currency: str = "",
) -> tuple[str, str]:
    """The invoice title and description the provider shows the shopper."""
    values = {
        "reference": reference,
        "channel": channel,
        "checkout": checkout,
        "amount": amount,
        "currency": currency,
        "shop": shop or channel,
        "purchase": purchase_label(order_number, checkout),
    }
    title = render(settings.title_template, **values).strip()
    description = render(settings.description_template, **values).strip()
    return title or "Payment", description


def url_error(value: Any) -> Optional[str]:
    parts = urlsplit(str(value or ""))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "Enter an http(s) URL."
    return None


REQUIRED = "required"  # error kinds: Saleor's PluginErrorCode has both
INVALID = "invalid"


def validate(provider: str, values: dict[str, Any], *, app: bool = False) -> dict[str, str]:
    """Field name → problem, for values about to be saved (the plugin's
    ``validate_plugin_configuration`` rules, without Saleor's error types;
    ``app``: the App edition's, which refuse ``before_payment``)."""
    if provider not in PROVIDER_NAMES:
        return {"provider": f"Choose one of: {', '.join(PROVIDER_NAMES)}."}
    found = problems(provider, values, app=app)
    return {name: message for name, (message, _) in found.items()}


def problems(
    provider: str, values: dict[str, Any], *, app: bool = False
) -> dict[str, tuple[str, str]]:
    """Field name → (message, ``REQUIRED`` or ``INVALID``) for a known
    ``provider``, in the order the fields are shown."""
    errors: dict[str, tuple[str, str]] = {}

    def fail(name: str, message: str, kind: str = INVALID) -> None:
        errors[name] = (message, kind)

    for name in SECRET_FIELDS[provider]:
        if not str(values.get(name) or "").strip():
            fail(name, "The parameter is required.", REQUIRED)
    if values.get("api_base_url") and url_error(values["api_base_url"]):
        fail("api_base_url", url_error(values["api_base_url"]) or "")
    currencies = parse_currencies(values.get("supported_currencies"))
    if not currencies:
        fail("supported_currencies", "Name at least one currency.", REQUIRED)
    elif any(not (c.isalpha() and 3 <= len(c) <= 5) for c in currencies):
        fail("supported_currencies", "Use currency codes separated by commas, e.g. USD,EUR.")
    order_creation = str(values.get("order_creation") or AFTER_PAYMENT).strip()
    if order_creation not in ORDER_CREATION_CHOICES:
        fail("order_creation", f"Choose one of: {', '.join(ORDER_CREATION_CHOICES)}.")
    elif app and order_creation not in APP_ORDER_CREATION_CHOICES:
        fail("order_creation", APP_ORDER_CREATION_REFUSED)
    if parse_tolerance(values.get("underpaid_tolerance_percent")) is None:
        fail("underpaid_tolerance_percent", "Enter a percentage from 0 to 10.")
    for name in ("invoice_title", "invoice_description"):
        problem = template_error(str(values.get(name) or ""))
        if problem:
            fail(name, problem)
    limit = values.get("reconcile_calls_per_run")
    if limit not in (None, "") and parse_positive_int(limit) is None:
        fail("reconcile_calls_per_run", "Enter a whole number above 0.")
    if provider == "coinpay_th":
        if str(values.get("action_names") or "official") not in ACTION_NAME_CHOICES:
            fail("action_names", "Choose official or docs.")
        keep = str(values.get("keep_percent") or "").strip()
        if keep and (not keep.isdigit() or int(keep) > 100):
            fail("keep_percent", "Enter a whole number from 0 to 100.")
    return errors
