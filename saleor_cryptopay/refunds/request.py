"""Refund requests: what is owed, to which address, and the claim link.

Everything an edition (Saleor plugin, App) decides about a refund lives here;
the editions only translate Saleor's refund call in and the sent refund out.
Money moves only in ``payouts.py``, from a background queue.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Optional

from django.core import signing
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from ..models import AddressCheck, Invoice, RefundRequest, StaffTask
from ..money import format_amount, quantize, to_decimal
from ..providers.errors import ProviderError
from ..providers.icoinpay import BASE_UNIT, SEND_DEADLINE, ICoinPayClient
from ..providers.icoinpay import PROVIDER as ICOINPAY
from ..providers.status import PaymentStatus
from ..sync import lock_invoice, open_task
from .addresses import address_problem

Status = RefundRequest.Status
CLAIM_SALT = "saleor_cryptopay.refund-claim"
CLAIM_DAYS = 14
CLAIM_MAX_DAYS = 90  # no token is accepted past this, whatever its row says
CLAIM_PROVIDER_CHECKS = 5  # iCoinPay checkaddress calls one claim link may cause
NEGATIVE_CHECK_TTL = timedelta(minutes=10)
# a payout row is stamped just before its send starts: room for that, and for
# clocks that differ a little between the workers and the database
LANDING_MARGIN = timedelta(seconds=10)  # a "no such user" may be fixed by the shopper
# a rate source: coins per unit of fiat, e.g. (BTC, USD) -> 0.00002
RateLookup = Callable[[str, str], Decimal]


class RefundError(Exception):
    """A refund that cannot be recorded or changed; the message is for staff."""


class ClaimError(Exception):
    """A claim link that cannot be used; the message is for the shopper."""


class AddressRejected(Exception):
    """An address that cannot receive the refund; the message is for the shopper."""


# requesting ---------------------------------------------------------------------


def refunded_total(invoice: Invoice) -> Decimal:
    """Every refund requested for the invoice, whatever its state: a refused
    payout is still owed, so it still counts against the capture."""
    total = invoice.refunds.aggregate(total=Sum("amount"))["total"]
    return total or Decimal(0)


def refundable(invoice: Invoice) -> Decimal:
    """What may still be refunded: the captured amount minus every request."""
    if invoice.charged_at is None:
        return Decimal(0)
    return max(Decimal(0), invoice.amount - refunded_total(invoice))


def coins_paid(invoice: Invoice) -> Optional[Decimal]:
    """The coins that came in: what the provider saw received, else what it asked."""
    if invoice.received_amount:
        return invoice.received_amount
    return invoice.pay_amount or None


def coins_left(invoice: Invoice) -> Decimal:
    """Coins that may still be paid back: never more than came in, whatever
    the rate each refund used."""
    refunded = invoice.refunds.aggregate(total=Sum("crypto_amount"))["total"] or Decimal(0)
    return max(Decimal(0), (coins_paid(invoice) or Decimal(0)) - refunded)


def invoice_rate(invoice: Invoice) -> Optional[Decimal]:
    """Coins per unit of fiat at which the shopper paid: from the coins
    received when fewer came in than asked (an underpayment accepted within
    the tolerance), so a full refund pays back exactly what came in."""
    if not invoice.pay_amount or not invoice.amount:
        return None
    coins = min(invoice.pay_amount, coins_paid(invoice) or invoice.pay_amount)
    return coins / invoice.amount


def coins_for(amount: Decimal, rate: Decimal) -> Decimal:
    """Down to the payout wallet's unit (10^-8): partial refunds never add up
    to more coins than the same fiat refunded at once."""
    return (amount * rate).quantize(BASE_UNIT, rounding=ROUND_DOWN)


def request_refund(
    invoice_id: int,
    amount: Decimal,
    currency: str,
    *,
    rate_source: str = RefundRequest.RateSource.INVOICE,
    current_rate: Optional[RateLookup] = None,
    fallback_coin: str = "BTC",
    requested_by: str = "",
    address: str = "",
    claim_days: int = CLAIM_DAYS,
) -> RefundRequest:
    """Record a refund of ``amount`` (order currency, rounded down: never more
    than staff asked). The invoice row lock serialises concurrent refunds, so
    together they never exceed the capture, nor the coins received."""
    amount = quantize(to_decimal(amount), currency, rounding=ROUND_DOWN)
    if amount <= 0:
        raise RefundError("The refund amount must be positive.")
    with transaction.atomic():
        invoice = lock_invoice(invoice_id)
        if currency.upper() != invoice.currency.upper():
            raise RefundError(f"The payment was made in {invoice.currency}, not {currency}.")
        if invoice.status == PaymentStatus.REFUNDED:
            raise RefundError(
                f"{invoice.provider} reports this payment as refunded already: check with "
                "the provider before paying anything back."
            )
        left = refundable(invoice)
        if amount > left:
            cur = invoice.currency
            raise RefundError(
                f"Cannot refund {format_amount(amount, cur)} {cur}: only "
                f"{format_amount(left, cur)} {cur} of the captured amount is left to refund."
            )
        coin = (invoice.pay_currency or fallback_coin).upper()
        rate, source = _rate(invoice, coin, rate_source, current_rate)
        # a current rate above the paid one must not pay back more than came in
        left_coins = coins_left(invoice).quantize(BASE_UNIT, ROUND_DOWN)
        if left_coins <= 0:
            raise RefundError(f"Every {coin} received for this payment is already refunded.")
        crypto = min(coins_for(amount, rate), left_coins)
        if crypto <= 0:
            raise RefundError(f"{amount} {invoice.currency} is less than the smallest {coin}.")
        refund = RefundRequest.objects.create(
            invoice=invoice,
            channel_slug=invoice.channel_slug,
            payment_id=invoice.payment_id,
            order_id=invoice.order_id,
            amount=amount,
            currency=invoice.currency,
            coin=coin,
            crypto_amount=crypto,
            rate=rate,
            rate_source=source,
            requested_by=requested_by[:255],
            claim_nonce=secrets.token_urlsafe(24),
            claim_expires_at=timezone.now() + timedelta(days=min(claim_days, CLAIM_MAX_DAYS)),
        )
    if address:
        set_address(refund.pk, address, by=requested_by or "staff")
        refund.refresh_from_db()
    return refund


def _rate(
    invoice: Invoice, coin: str, source: str, current_rate: Optional[RateLookup]
) -> tuple[Decimal, str]:
    if source == RefundRequest.RateSource.CURRENT:
        if current_rate is None:
            raise RefundError("No current rate is available for this provider.")
        try:
            return to_decimal(current_rate(coin, invoice.currency)), source
        except ProviderError as exc:
            raise RefundError(f"Could not read the current rate: {exc.message}") from None
    rate = invoice_rate(invoice)
    if rate is None:
        raise RefundError("The invoice has no crypto amount to take the rate from.")
    return rate, RefundRequest.RateSource.INVOICE


# claim links ----------------------------------------------------------------------


def claim_token(refund: RefundRequest) -> str:
    """The signed, expiring token of the refund's claim link (SECRET_KEY signs;
    the nonce makes it single use and lets staff re-issue it)."""
    if not refund.claim_nonce:
        raise RefundError("This refund has no open claim link.")
    return signing.dumps([refund.pk, refund.claim_nonce], salt=CLAIM_SALT, compress=True)


def open_claim(token: str) -> RefundRequest:
    """The refund a claim token stands for, or ClaimError."""
    try:
        pk, nonce = signing.loads(token, salt=CLAIM_SALT, max_age=timedelta(days=CLAIM_MAX_DAYS))
    except signing.SignatureExpired:
        raise ClaimError(
            "This refund link has expired. Please ask the shop for a new one."
        ) from None
    except (signing.BadSignature, TypeError, ValueError):
        raise ClaimError("This refund link is not valid.") from None
    refund = RefundRequest.objects.filter(pk=pk).first() if isinstance(pk, int) else None
    if refund is None or not isinstance(nonce, str):
        raise ClaimError("This refund link is not valid.")
    if not refund.claim_nonce or not hmac.compare_digest(refund.claim_nonce, nonce):
        raise ClaimError("This refund link was already used or replaced by a newer one.")
    if refund.claim_expires_at and refund.claim_expires_at < timezone.now():
        raise ClaimError("This refund link has expired. Please ask the shop for a new one.")
    if refund.status != Status.AWAITING_ADDRESS:
        raise ClaimError("This refund already has an address.")
    return refund


def renew_claim(refund_id: int, *, days: int = CLAIM_DAYS) -> RefundRequest:
    """A fresh link (the old one stops working)."""
    with transaction.atomic():
        refund = RefundRequest.objects.select_for_update().get(pk=refund_id)
        if refund.status != Status.AWAITING_ADDRESS:
            raise RefundError(f"Refund #{refund.pk} is {refund.status}: it needs no link.")
        refund.claim_nonce = secrets.token_urlsafe(24)
        refund.claim_expires_at = timezone.now() + timedelta(days=min(days, CLAIM_MAX_DAYS))
        refund.save(update_fields=["claim_nonce", "claim_expires_at", "updated_at"])
    return refund


def claim(token: str, address: str, *, checker: Optional[ICoinPayClient] = None) -> RefundRequest:
    """The shopper's address through the claim link: checked locally, then with
    the provider (cached; a few calls per link at most), then the link is spent."""
    refund = open_claim(token)
    address = address.strip()
    _check(refund, address, checker, spend_from=refund.pk)
    nonce = refund.claim_nonce
    with transaction.atomic():
        locked = RefundRequest.objects.select_for_update().get(pk=refund.pk)
        if locked.claim_nonce != nonce or locked.status != Status.AWAITING_ADDRESS:
            raise ClaimError("This refund link was already used.")
        _store_address(locked, address, by="shopper (claim link)", checker=checker)
        locked.claim_used_at = timezone.now()
        locked.claim_nonce = ""
        locked.save()
    return locked


# addresses -----------------------------------------------------------------------


def set_address(
    refund_id: int, address: str, *, by: str, checker: Optional[ICoinPayClient] = None
) -> RefundRequest:
    """Staff enter an address (skips the claim link, or fixes a refused one)."""
    address = address.strip()
    with transaction.atomic():
        refund = RefundRequest.objects.select_for_update().get(pk=refund_id)
        if refund.status not in (Status.AWAITING_ADDRESS, Status.FAILED):
            raise RefundError(f"Refund #{refund.pk} is {refund.status}: its address is fixed.")
    try:
        _check(refund, address, checker)
    except AddressRejected as exc:
        raise RefundError(str(exc)) from None
    with transaction.atomic():
        refund = RefundRequest.objects.select_for_update().get(pk=refund_id)
        _store_address(refund, address, by=by, checker=checker)
        refund.claim_nonce = ""
        refund.save()
    return refund


def _check(
    refund: RefundRequest,
    address: str,
    checker: Optional[ICoinPayClient],
    spend_from: Optional[int] = None,
) -> None:
    problem = address_problem(refund.coin, address)
    if problem:
        raise AddressRejected(problem)
    if checker is None:
        return  # no iCoinPay account: staff pay by hand, the local check is all we have
    if cached_check(refund.coin, address) is None and spend_from is not None:
        # a public page: each link may cause only a few provider calls
        spent = RefundRequest.objects.filter(
            pk=spend_from, claim_checks__lt=CLAIM_PROVIDER_CHECKS
        ).update(claim_checks=F("claim_checks") + 1)
        if not spent:
            raise AddressRejected("Too many attempts with this link. Please contact the shop.")
    try:
        check = check_address(checker, refund.coin, address)
    except ProviderError:
        raise AddressRejected(
            "The address could not be checked right now. Please try again in a moment."
        ) from None
    if not check.valid:
        raise AddressRejected(
            "This address does not belong to an iCoinPay account. Refunds are paid to "
            "iCoinPay addresses: please enter the address of your iCoinPay wallet."
        )


def _store_address(
    refund: RefundRequest, address: str, *, by: str, checker: Optional[ICoinPayClient]
) -> None:
    check = cached_check(refund.coin, address) if checker is not None else None
    refund.address = address
    refund.address_user_hash = check.user_hash if check else ""
    refund.address_set_by = by[:255]
    refund.address_set_at = timezone.now()
    refund.status = Status.QUEUED
    refund.refused_code = refund.refused_reason = ""


def cached_check(coin: str, address: str) -> Optional[AddressCheck]:
    row = AddressCheck.objects.filter(
        provider=ICOINPAY, currency=coin.upper(), address=address
    ).first()
    if row is None:
        return None
    if not row.valid and row.checked_at < timezone.now() - NEGATIVE_CHECK_TTL:
        return None  # the shopper may have linked the address since
    return row


def check_address(client: ICoinPayClient, coin: str, address: str) -> AddressCheck:
    """The provider's answer, asked once per address (the provider's advice):
    a valid answer is kept, a refusal for a few minutes."""
    cached = cached_check(coin, address)
    if cached is not None:
        return cached
    result = client.check_address(address, currency=coin)
    row, _ = AddressCheck.objects.update_or_create(
        provider=ICOINPAY,
        currency=coin.upper(),
        address=address,
        defaults={
            "valid": result.valid,
            "user_hash": result.user_hash or "",
            "message": (result.message or "")[:500],
            "checked_at": timezone.now(),
        },
    )
    return row


# staff actions -------------------------------------------------------------------


def mark_sent(refund_id: int, *, txid: str, by: str) -> RefundRequest:
    """Staff sent the coins by hand (no iCoinPay, or after checking an unknown
    outcome): recorded exactly like a payout from the queue."""
    txid = txid.strip()
    if not txid:
        raise RefundError("Give the transaction id (--txid).")
    with transaction.atomic():
        refund = RefundRequest.objects.select_for_update().get(pk=refund_id)
        if refund.status == Status.SENT:
            raise RefundError(f"Refund #{refund.pk} is already sent.")
        if refund.status == Status.SENDING:
            raise RefundError(f"Refund #{refund.pk} is being sent right now; wait for it.")
        refund.status = Status.SENT
        refund.txid = txid[:128]
        refund.sent_at = timezone.now()
        refund.sent_by = f"staff: {by}"[:255]
        refund.save()
        resolve_tasks(refund)
    return refund


def retry(refund_id: int, *, not_sent: bool = False) -> RefundRequest:
    """Queue a refused payout again (after topping up the wallet, fixing the
    address…). An unknown outcome needs ``not_sent``: staff checked the wallet
    and the coins did not leave."""
    with transaction.atomic():
        refund = RefundRequest.objects.select_for_update().get(pk=refund_id)
        if refund.status == Status.NEEDS_ATTENTION and not not_sent:
            raise RefundError(
                f"Refund #{refund.pk} may already be paid (the provider's answer was lost). "
                "Check the iCoinPay wallet's payouts: if it was paid, use --mark-sent; if "
                "not, retry with --not-sent."
            )
        if refund.status not in (Status.FAILED, Status.NEEDS_ATTENTION):
            raise RefundError(f"Refund #{refund.pk} is {refund.status}: nothing to retry.")
        # a refusal was an answer; an unknown outcome may still be in flight
        lands_until = _could_land_until(refund) if refund.status == Status.NEEDS_ATTENTION else None
        if lands_until is not None:
            raise RefundError(
                f"Refund #{refund.pk}: its last payout request could still reach iCoinPay "
                f"until {lands_until:%Y-%m-%d %H:%M:%S} UTC. Check the wallet after that, "
                "then retry."
            )
        if not refund.address:
            raise RefundError(f"Refund #{refund.pk} has no address yet.")
        refund.status = Status.QUEUED
        refund.save(update_fields=["status", "updated_at"])
        resolve_tasks(refund)
    return refund


def _could_land_until(refund: RefundRequest) -> Optional[datetime]:
    """When the refund's last payout request stops being able to reach the
    wallet (its send's total deadline), if that is still ahead."""
    last = refund.payouts.order_by("-started_at").values_list("started_at", flat=True).first()
    if last is None:
        return None
    until = last + timedelta(seconds=SEND_DEADLINE) + LANDING_MARGIN
    return until if until > timezone.now() else None


def task_kind(kind: str, refund: RefundRequest) -> str:
    return f"{kind}:{refund.pk}"[:32]


def raise_task(refund: RefundRequest, kind: str, message: str) -> StaffTask:
    return open_task(refund.invoice, task_kind(kind, refund), f"Refund #{refund.pk}: {message}")


def resolve_tasks(refund: RefundRequest) -> None:
    kinds = [task_kind(k, refund) for k in ("payout_failed", "payout_unknown")]
    StaffTask.objects.filter(invoice_id=refund.invoice_id, kind__in=kinds, resolved_at=None).update(
        resolved_at=timezone.now()
    )
