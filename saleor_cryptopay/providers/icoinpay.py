"""iCoinPay wallet API client (payouts), the FaucetPay v1 contract.

Every call is a form POST to ``<base>/<method>`` with ``api_key`` and
``currency``; only a JSON body with ``status == 200`` is a success, whatever
the HTTP code. Amounts travel as integer base units (coin x 10^8) and are
``Decimal`` coins everywhere else.

``send`` moves money, so its failures come in two kinds the caller must keep
apart: ``PayoutRefused`` (nothing was sent: no byte of the request left this
machine, or the wallet answered with a documented refusal code; safe to try
again after a fix) and ``PayoutOutcomeUnknown`` (everything else: an
undocumented status, a proxy's page, a redirect, a lost or cut answer. The
request may have reached the wallet and nobody knows whether coins left: a
second send could pay twice, so a person must look first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any, Optional

import requests

from ..money import MoneyError, to_decimal
from .errors import ProviderError
from .http import (
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    NEVER_SENT,
    NOT_SENT,
    HttpTransport,
    decimal_or_none,
    first_message,
    int_or_none,
    text_or_none,
)

PROVIDER = "icoinpay"
LIVE_BASE_URL = "https://icoinpay.com/api/v1"
DEFAULT_CURRENCY = "BTC"
UNITS_PER_COIN = 10**8
BASE_UNIT = Decimal(1).scaleb(-8)
# no call to the wallet lasts longer (connect + request + whole answer): once
# this has passed since a send began, its request can no longer land
SEND_DEADLINE = DEFAULT_DEADLINE

# Documented status codes -> (our code, what it means for a person).
ERRORS: dict[int, tuple[str, str]] = {
    401: ("access_denied", "access denied (check the API key's permissions and allowed IPs)"),
    402: ("insufficient_funds", "insufficient funds in the iCoinPay wallet"),
    403: ("invalid_key", "invalid API key"),
    404: ("not_found", "unknown API method"),
    405: ("invalid_amount", "invalid payment amount"),
    410: ("invalid_currency", "invalid currency"),
    450: ("send_limit", "send limit reached"),
    456: ("invalid_address", "the address does not belong to any iCoinPay user"),
}


class PayoutRefused(ProviderError):
    """The provider answered ``send`` with an error: nothing was sent."""


class AmountNotSendable(ValueError):
    """An amount the wire cannot carry; raised before anything is sent."""


class PayoutOutcomeUnknown(ProviderError):
    """``send`` may or may not have paid (timeout, lost connection, 5xx,
    unreadable answer). Never retry automatically."""


def to_units(amount: Decimal) -> int:
    """Coins to integer base units; refuses amounts finer than 10^-8
    (rounding here would silently change what is paid)."""
    value = to_decimal(amount)
    if value != value.quantize(BASE_UNIT, rounding=ROUND_DOWN):
        raise AmountNotSendable(f"{value} has more than 8 decimals")
    return int(value.scaleb(8))


def from_units(value: Any) -> Optional[Decimal]:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        units = to_decimal(value)
    except MoneyError:
        return None
    return units.scaleb(-8)


@dataclass(frozen=True)
class Balance:
    currency: str
    balance: Decimal  # coins
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class AddressCheck:
    address: str
    valid: bool
    user_hash: Optional[str] = None
    message: Optional[str] = None


@dataclass(frozen=True)
class Payout:
    payout_id: str
    currency: str
    amount: Decimal
    balance: Optional[Decimal]  # the wallet's balance after the payout
    user_hash: Optional[str] = None
    rate_limit_remaining: Optional[int] = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _status(body: Mapping[str, Any]) -> Optional[int]:
    try:
        return int(body.get("status"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _message(body: Mapping[str, Any]) -> Optional[str]:
    return first_message(body, ("message", "error", "errors"))


def _error_message(body: Mapping[str, Any]) -> Optional[str]:
    """For HttpTransport: an HTTP error whose JSON still names the problem."""
    status = _status(body)
    known = ERRORS.get(status) if status is not None else None
    message = _message(body)
    if known and message:
        return f"{message} ({status})"
    return message or (f"{known[1]} ({status})" if known else None)


class ICoinPayClient:
    """Balance, address checks and payouts for one iCoinPay API key."""

    def __init__(
        self,
        api_key: str,
        *,
        currency: str = DEFAULT_CURRENCY,
        base_url: str = LIVE_BASE_URL,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: Optional[requests.Session] = None,
        deadline: float = SEND_DEADLINE,
    ) -> None:
        if not api_key:
            raise ValueError("iCoinPay needs an API key")
        self._api_key = api_key
        self.currency = (currency or DEFAULT_CURRENCY).upper()
        # never longer than SEND_DEADLINE: staff's "not sent" waits for that
        self.http = HttpTransport(
            PROVIDER,
            base_url,
            timeout=timeout,
            session=session,
            deadline=min(deadline, SEND_DEADLINE),
        )

    @property
    def key_digest(self) -> str:
        """Names the account in storage without storing the key."""
        return hashlib.sha256(self._api_key.encode()).hexdigest()

    def __repr__(self) -> str:  # never show the key
        return f"ICoinPayClient(base_url={self.http.base_url!r}, currency={self.currency!r})"

    def _call(self, method: str, fields: Optional[dict] = None, currency: Optional[str] = None):
        """One call; returns (status, body). Any answer other than a JSON
        object raises ProviderError (HttpTransport's rules)."""
        http_status, status, body = self._answer(method, fields, currency)
        return status, body

    def _answer(
        self,
        method: str,
        fields: Optional[dict] = None,
        currency: Optional[str] = None,
        any_status: bool = False,
    ) -> tuple[int, Optional[int], dict]:
        """(HTTP status, JSON status, body); with ``any_status`` an HTTP error
        whose body is JSON is returned too."""
        data = {"api_key": self._api_key, "currency": (currency or self.currency).upper()}
        data.update({k: str(v) for k, v in (fields or {}).items() if v is not None})
        result = self.http.post(
            method, data=data, error_message=_error_message, any_status=any_status
        )
        if not isinstance(result.body, dict):
            raise ProviderError(
                "expected a JSON object",
                provider=PROVIDER,
                status_code=result.status_code,
                code="bad_response",
            )
        return result.status_code, _status(result.body), result.body

    def _refusal(self, status: Optional[int], body: Mapping[str, Any], cls=ProviderError):
        code, meaning = ERRORS.get(status, ("rejected", "request refused"))  # type: ignore[arg-type]
        message = _message(body) or meaning
        return cls(
            f"{message} ({status})" if status is not None else message,
            provider=PROVIDER,
            status_code=status,
            code=code,
        )

    def balance(self, currency: Optional[str] = None) -> Balance:
        status, body = self._call("balance", currency=currency)
        if status != 200:
            raise self._refusal(status, body)
        units = from_units(body.get("balance"))
        coins = units if units is not None else decimal_or_none(body.get("balance_bitcoin"))
        if coins is None:
            raise ProviderError(
                "balance answer lacks a balance", provider=PROVIDER, code="bad_response"
            )
        return Balance(
            currency=text_or_none(body.get("currency")) or (currency or self.currency).upper(),
            balance=coins,
            raw=dict(body),
        )

    def check_address(self, address: str, currency: Optional[str] = None) -> AddressCheck:
        """Whether ``address`` belongs to an iCoinPay user. A 456 is an
        answer (not valid), not an error; other refusals raise."""
        status, body = self._call("checkaddress", {"address": address}, currency=currency)
        if status == 200:
            return AddressCheck(
                address, True, text_or_none(body.get("payout_user_hash")), _message(body)
            )
        if status == 456:
            return AddressCheck(address, False, None, _message(body) or ERRORS[456][1])
        raise self._refusal(status, body)

    def send(
        self,
        to: str,
        amount: Decimal,
        *,
        currency: Optional[str] = None,
        referral: bool = False,
        ip_address: Optional[str] = None,
    ) -> Payout:
        """Pay ``amount`` coins to ``to``. Raises ``PayoutRefused`` or
        ``PayoutOutcomeUnknown`` (see the module docstring); AmountNotSendable
        for an amount the wire cannot carry (nothing is sent then)."""
        units = to_units(amount)
        if units <= 0:
            raise AmountNotSendable("amount must be positive")
        coin = (currency or self.currency).upper()
        fields = {
            "to": to,
            "amount": units,
            "referral": "true" if referral else "false",
            "ip_address": ip_address,
        }
        try:
            http_status, status, body = self._answer("send", fields, coin, any_status=True)
        except ProviderError as exc:
            raise _classify_send_failure(exc) from None
        if status in ERRORS:
            # a documented refusal, in a well-formed answer: nothing was sent
            raise self._refusal(status, body, PayoutRefused)
        if status != 200 or not 200 <= http_status < 300:
            # not an answer the docs describe (a status they do not list, or
            # none): the wallet may have paid
            raise PayoutOutcomeUnknown(
                f"undocumented answer to send (status {status}, HTTP {http_status}): "
                "the coins may have left",
                provider=PROVIDER,
                status_code=http_status,
                code="undocumented_answer",
            )
        payout_id = text_or_none(body.get("payout_id"))
        if not payout_id:
            # status 200 says it was paid; without an id there is nothing to
            # match it by, but paying again would still pay twice
            raise PayoutOutcomeUnknown(
                "send succeeded without a payout_id", provider=PROVIDER, code="bad_response"
            )
        return Payout(
            payout_id=payout_id,
            currency=coin,
            amount=to_decimal(amount),
            balance=from_units(body.get("balance")),
            user_hash=text_or_none(body.get("payout_user_hash")),
            rate_limit_remaining=int_or_none(body.get("rate_limit_remaining")),
            raw=dict(body),
        )


def _classify_send_failure(exc: ProviderError) -> ProviderError:
    """A transport error on ``send``: refused only when no byte of the request
    left this machine (see ``http.NEVER_SENT``; our own quota's block counts);
    anything else (a proxy's page, a redirect, a cut answer, a rate limit
    nobody documented) may have paid."""
    args = {"provider": PROVIDER, "status_code": exc.status_code, "retry_after": exc.retry_after}
    if exc.code in NEVER_SENT or (exc.code == "rate_limited" and exc.status_code is None):
        return PayoutRefused(exc.message, code=NOT_SENT, retryable=True, **args)
    code = exc.code or (f"http_{exc.status_code}" if exc.status_code else "unknown_outcome")
    return PayoutOutcomeUnknown(exc.message, code=code, **args)
