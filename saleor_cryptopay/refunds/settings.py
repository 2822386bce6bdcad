"""Per-channel refund settings without Saleor: the iCoinPay payout account,
the rate choice and how long a claim link works.

Both editions apply these rules: the plugin to its Dashboard fields, the App
edition to its channel configuration.
"""

from __future__ import annotations

from typing import Any, Optional

from ..gateway_config import parse_positive_int, url_error
from ..providers.errors import ProviderError
from ..providers.icoinpay import LIVE_BASE_URL, ICoinPayClient
from .request import CLAIM_DAYS, CLAIM_MAX_DAYS

ICOINPAY_LIVE_URL = LIVE_BASE_URL
REFUND_RATES = ("invoice", "current")
REFUND_DEFAULTS = {
    "icoinpay_api_base_url": ICOINPAY_LIVE_URL,
    "icoinpay_currency": "BTC",
    "refund_rate": "invoice",
    "refund_claim_days": str(CLAIM_DAYS),
}


def payout_client_from(values: Any) -> Optional[ICoinPayClient]:
    """The channel's iCoinPay account, None without a key."""
    key = str(values.get("icoinpay_api_key") or "").strip()
    if not key:
        return None
    return ICoinPayClient(
        key,
        currency=payout_coin(values),
        base_url=str(values.get("icoinpay_api_base_url") or ICOINPAY_LIVE_URL).strip(),
    )


def payout_coin(values: Any) -> str:
    return str(values.get("icoinpay_currency") or "BTC").strip().upper() or "BTC"


def rate_choice(values: Any) -> str:
    rate = str(values.get("refund_rate") or "invoice").strip()
    return rate if rate in REFUND_RATES else "invoice"


def claim_days(values: Any) -> int:
    days = parse_positive_int(values.get("refund_claim_days") or CLAIM_DAYS) or CLAIM_DAYS
    return min(days, CLAIM_MAX_DAYS)


def validate_refund_fields(values: dict[str, Any], *, check: bool = True) -> dict[str, str]:
    """Field name -> problem. With ``check``, a key is tried with one balance
    call, so a wrong key shows when it is saved, not at the first refund."""
    errors: dict[str, str] = {}
    if str(values.get("refund_rate") or "invoice") not in REFUND_RATES:
        errors["refund_rate"] = f"Choose one of: {', '.join(REFUND_RATES)}."
    days = parse_positive_int(values.get("refund_claim_days") or CLAIM_DAYS)
    if days is None or days > CLAIM_MAX_DAYS:
        errors["refund_claim_days"] = f"Enter a number of days from 1 to {CLAIM_MAX_DAYS}."
    url = values.get("icoinpay_api_base_url")
    if url and url_error(url):
        errors["icoinpay_api_base_url"] = url_error(url) or ""
    coin = str(values.get("icoinpay_currency") or "BTC").strip()
    if not (coin.isalpha() and 2 <= len(coin) <= 6):
        errors["icoinpay_currency"] = "Enter a coin code, e.g. BTC."
    if errors or not check:
        return errors
    client = payout_client_from(values)
    if client is not None:
        try:
            client.balance()
        except ProviderError as exc:  # the provider's words: they hold no secret
            if exc.code in ("invalid_key", "access_denied"):
                errors["icoinpay_api_key"] = f"iCoinPay refused this key: {exc.message}"
            else:
                errors["icoinpay_api_key"] = f"Could not check the key with iCoinPay: {exc.message}"
    return errors
