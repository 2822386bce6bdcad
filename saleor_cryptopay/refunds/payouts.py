"""The payout queue: queued refunds sent with iCoinPay ``send``, exactly once.

Only a background worker runs this (Celery task or ``cryptopay_payouts``),
never a web request. Per refund:

1. claim: the row goes ``queued`` -> ``sending`` and a ``Payout`` row is
   created, **committed before the provider is called** (row locks with
   SKIP LOCKED where the database has them, and a conditional UPDATE that
   only one worker can win everywhere);
2. send, outside any transaction;
3. clear success -> ``sent`` with the payout id, the wallet balance kept;
   not sent (no request byte left, or a documented refusal code) ->
   ``failed`` with the reason, retried only when staff ask; anything else ->
   ``needs_attention`` and a staff task: never sent again automatically,
   since the coins may have left (``refunds.retry`` also waits until the
   send's deadline has passed, so a "not sent" cannot cross a late request).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Optional

from django.db import transaction
from django.utils import timezone

from ..models import Payout, RefundRequest, WalletBalance
from ..providers.errors import ProviderError
from ..providers.http import NOT_SENT
from ..providers.icoinpay import (
    PROVIDER,
    SEND_DEADLINE,
    AmountNotSendable,
    ICoinPayClient,
    PayoutRefused,
)
from .request import raise_task, resolve_tasks

# the name it had before refunds became a package: logging settings that name it keep working
logger = logging.getLogger("saleor_cryptopay.payouts")

Status = RefundRequest.Status
# the payout client for a refund's channel, or None (no iCoinPay credentials)
ClientFor = Callable[[RefundRequest], Optional[ICoinPayClient]]
# called after a refund is sent, refused or left unknown (the edition shows it on its side)
OnSent = Callable[[RefundRequest], None]
OnProblem = Callable[[RefundRequest], None]
STALE_AFTER = timedelta(minutes=15)  # never less than SEND_DEADLINE (run_payouts)


@dataclass(frozen=True)
class Outcome:
    refund_id: int
    result: str  # sent | refused | unknown | stale
    detail: str = ""

    def summary(self) -> str:
        return f"refund #{self.refund_id}: {self.result}" + (
            f" ({self.detail})" if self.detail else ""
        )


def run_payouts(
    client_for: ClientFor,
    *,
    limit: int = 50,
    on_sent: Optional[OnSent] = None,
    on_problem: Optional[OnProblem] = None,
    stale_after: timedelta = STALE_AFTER,
) -> list[Outcome]:
    """Send up to ``limit`` queued refunds. Safe to run in many workers at once."""
    # a send still within its deadline is never flagged: it could still land
    outcomes = flag_stale(max(stale_after, timedelta(seconds=SEND_DEADLINE)))
    if on_problem is not None:
        for outcome in outcomes:
            on_problem(RefundRequest.objects.get(pk=outcome.refund_id))
    skipped: set[int] = set()  # channels without credentials: left queued for staff
    sent = 0
    while sent < limit:
        claimed = claim_next(client_for, skipped)
        if claimed is None:
            break
        refund, payout, client = claimed
        outcome = send(refund, payout, client)
        outcomes.append(outcome)
        sent += 1
        if outcome.result == "sent" and on_sent is not None:
            on_sent(refund)
        elif outcome.result != "sent" and on_problem is not None:
            on_problem(refund)
    return outcomes


def claim_next(
    client_for: ClientFor, skipped: set[int]
) -> Optional[tuple[RefundRequest, Payout, ICoinPayClient]]:
    """Take the oldest queued refund nobody else holds; committed on return."""
    while True:
        with transaction.atomic():
            refund = (
                RefundRequest.objects.select_for_update(skip_locked=True)
                .filter(status=Status.QUEUED)
                .exclude(pk__in=skipped)
                .order_by("pk")
                .first()
            )
            if refund is None:
                return None
            client = client_for(refund)
            if client is None:
                skipped.add(refund.pk)
                continue
            # the row lock already excludes other workers on PostgreSQL; this
            # compare-and-set makes it true on any database
            won = RefundRequest.objects.filter(pk=refund.pk, status=Status.QUEUED).update(
                status=Status.SENDING, updated_at=timezone.now()
            )
            if not won:
                continue
            refund.status = Status.SENDING
            payout = Payout.objects.create(
                refund=refund,
                provider=PROVIDER,
                currency=refund.coin,
                amount=refund.crypto_amount,
                address=refund.address,
            )
        return refund, payout, client


def send(refund: RefundRequest, payout: Payout, client: ICoinPayClient) -> Outcome:
    try:
        result = client.send(refund.address, refund.crypto_amount, currency=refund.coin)
    except PayoutRefused as exc:
        return _refused(refund, payout, exc.code or "refused", exc.message)
    except AmountNotSendable as exc:  # raised before anything was sent
        return _refused(refund, payout, "invalid_amount", str(exc))
    except ProviderError as exc:  # PayoutOutcomeUnknown and anything unforeseen
        return _unknown(refund, payout, exc.code or "unknown", exc.message)
    except Exception as exc:
        logger.exception("cryptopay payout of refund %s crashed", refund.pk)
        return _unknown(refund, payout, "crash", type(exc).__name__)
    with transaction.atomic():
        now = timezone.now()
        Payout.objects.filter(pk=payout.pk).update(
            status=Payout.Status.SENT, payout_id=result.payout_id[:128], finished_at=now
        )
        refund.status = Status.SENT
        refund.payout_id = result.payout_id[:128]
        refund.sent_at = now
        refund.sent_by = PROVIDER
        refund.refused_code = refund.refused_reason = ""
        if result.user_hash and not refund.address_user_hash:
            refund.address_user_hash = result.user_hash[:128]
        refund.save()
        if result.balance is not None:
            remember_balance(client, result.currency, result.balance)
        resolve_tasks(refund)
    logger.info("cryptopay refund %s sent: payout %s", refund.pk, result.payout_id)
    return Outcome(refund.pk, "sent", f"payout {result.payout_id}")


def _close(
    refund: RefundRequest,
    payout: Payout,
    code: str,
    message: str,
    *,
    payout_status: str,
    refund_status: str,
    reason: str,
    task: tuple[str, str],
) -> None:
    """Finish a payout that did not go out as asked, and put its refund and a
    staff task in front of a person: one transaction, so no reader sees one
    without the others."""
    with transaction.atomic():
        Payout.objects.filter(pk=payout.pk).update(
            status=payout_status,
            error_code=code[:64],
            error=message[:1000],
            finished_at=timezone.now(),
        )
        refund.status = refund_status
        refund.refused_code = code[:64]
        refund.refused_reason = reason
        refund.save(update_fields=["status", "refused_code", "refused_reason", "updated_at"])
        raise_task(refund, *task)


def _refused(refund: RefundRequest, payout: Payout, code: str, message: str) -> Outcome:
    if code in (NOT_SENT, "invalid_amount"):
        reason = f"The payout was not sent ({message}): no request reached iCoinPay"
    else:
        reason = f"iCoinPay refused the payout: {message}"
    _close(
        refund,
        payout,
        code,
        message,
        payout_status=Payout.Status.REFUSED,
        refund_status=Status.FAILED,
        reason=reason,
        task=("payout_failed", f"{reason}. Fix it, then: cryptopay_refunds --retry {refund.pk}"),
    )
    logger.warning("cryptopay refund %s refused: %s", refund.pk, message)
    return Outcome(refund.pk, "refused", message)


def _unknown(refund: RefundRequest, payout: Payout, code: str, message: str) -> Outcome:
    reason = (
        f"Payout outcome unknown ({message}): the coins may have been sent. Check the "
        "iCoinPay wallet's payouts, then run cryptopay_refunds --mark-sent "
        f"{refund.pk} --txid … if paid, or --retry {refund.pk} --not-sent if not."
    )
    _close(
        refund,
        payout,
        code,
        message,
        payout_status=Payout.Status.UNKNOWN,
        refund_status=Status.NEEDS_ATTENTION,
        reason=reason,
        task=("payout_unknown", reason),
    )
    logger.warning("cryptopay refund %s: payout outcome unknown: %s", refund.pk, message)
    return Outcome(refund.pk, "unknown", message)


def flag_stale(stale_after: timedelta) -> list[Outcome]:
    """A ``sending`` row older than ``stale_after`` belongs to a worker that
    died around the provider call: nobody knows whether it paid."""
    outcomes = []
    cutoff = timezone.now() - stale_after
    stale = Payout.objects.filter(status=Payout.Status.SENDING, started_at__lt=cutoff)
    for payout in stale.select_related("refund", "refund__invoice"):
        refund = payout.refund
        # one transaction: nobody sees (and no crash leaves) needs_attention without its task
        with transaction.atomic():
            won = RefundRequest.objects.filter(pk=refund.pk, status=Status.SENDING).update(
                status=Status.NEEDS_ATTENTION
            )
            if won:
                outcomes.append(_unknown(refund, payout, "stale", "the worker stopped mid-payout"))
    return outcomes


def remember_balance(client: ICoinPayClient, currency: str, balance: Decimal) -> None:
    WalletBalance.objects.update_or_create(
        provider=PROVIDER,
        key_digest=client.key_digest,
        currency=currency.upper(),
        defaults={"balance": balance},
    )


def known_balance(client: ICoinPayClient, currency: str) -> Optional[WalletBalance]:
    """The balance the last payout answered (no getbalance call)."""
    return WalletBalance.objects.filter(
        provider=PROVIDER, key_digest=client.key_digest, currency=currency.upper()
    ).first()
