"""Invoices, the callback inbox, the nonce counter, refunds and their payouts.

No foreign keys into Saleor's tables: this layer does not depend on Saleor,
and an invoice must outlive a deleted checkout or payment (the money is still
real). Saleor objects are referenced by id and re-read under lock.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .money import format_amount, plain_decimal
from .providers.status import PaymentStatus

PROVIDERS = [("coinpay24", "CoinPay24"), ("coinpay_th", "CoinPay.in.th")]
STATUS_CHOICES = [(s.value, s.name.title()) for s in PaymentStatus]
OPEN_STATUSES = [s.value for s in PaymentStatus if s.is_open] + [PaymentStatus.UNDERPAID.value]

MONEY = {"max_digits": 20, "decimal_places": 3}  # Saleor's fiat amounts fit (12, 3)
CRYPTO = {"max_digits": 40, "decimal_places": 18}  # ETH has 18 decimals


class Invoice(models.Model):
    """One provider invoice (CoinPay24) or order (CoinPay.in.th) for one payment."""

    provider = models.CharField(max_length=32, choices=PROVIDERS)
    channel_slug = models.CharField(max_length=255)
    provider_invoice_id = models.CharField(max_length=64, null=True, blank=True)
    provider_ref = models.CharField(max_length=128, blank=True, default="")  # hash / url token

    payment_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    checkout_token = models.CharField(max_length=36, null=True, blank=True, db_index=True)
    order_id = models.CharField(max_length=36, null=True, blank=True, db_index=True)
    # for the shopper's pages (claim page), never Saleor ids: the shop
    # (channel name) and the order number, as the edition knew them
    shop_name = models.CharField(max_length=255, blank=True, default="")
    order_number = models.CharField(max_length=32, blank=True, default="")
    # App edition (Transactions API): the Saleor instance and its TransactionItem
    # (global id); the plugin edition leaves both empty and uses payment_id
    saleor_api_url = models.CharField(max_length=255, null=True, blank=True)
    transaction_id = models.CharField(max_length=255, null=True, blank=True)

    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=8)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default="new", db_index=True)
    flags = models.JSONField(default=list, blank=True)

    pay_amount = models.DecimalField(**CRYPTO, null=True, blank=True)
    pay_currency = models.CharField(max_length=16, blank=True, default="")
    received_amount = models.DecimalField(**CRYPTO, null=True, blank=True)
    address = models.CharField(max_length=128, blank=True, default="")
    payment_url = models.URLField(max_length=1000, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    provider_data = models.JSONField(default=dict, blank=True)  # last API answer, no secrets
    # the shopper pays on our payment page (payment_page/): the invoice had an
    # address from the start (CoinPay.in.th, white-label CoinPay24); hosted
    # CoinPay24 keeps the provider's page even once the shopper picks a coin there
    shopper_page = models.BooleanField(default=False)
    return_url = models.CharField(max_length=1000, blank=True, default="")  # the storefront's

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # callbacks verified by a provider call (verifyipn) since this time, none of
    # them genuine yet: a few per interval (sync.claim_verification)
    ipn_checked_at = models.DateTimeField(null=True, blank=True)
    ipn_checks = models.PositiveSmallIntegerField(default=0)
    charged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    needs_attention = models.BooleanField(default=False, db_index=True)
    attention_reason = models.TextField(blank=True, default="")
    superseded = models.BooleanField(default=False)  # replaced by a newer invoice

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("provider", "provider_invoice_id"), name="cryptopay_unique_provider_invoice"
            ),
            # one invoice per Saleor transaction: a retried initialize reuses it
            models.UniqueConstraint(
                fields=("saleor_api_url", "transaction_id"),
                condition=models.Q(transaction_id__isnull=False),
                name="cryptopay_one_invoice_per_transaction",
            ),
        ]
        indexes = [models.Index(fields=("provider", "status"), name="cryptopay_provider_status")]

    def __str__(self) -> str:
        ref = f"{self.provider}:{self.provider_invoice_id}"
        return f"{ref} {self.amount} {self.currency} {self.status}"

    @property
    def payment_status(self) -> PaymentStatus:
        return PaymentStatus(self.status)

    def flag(self, *names: str, reason: str = "") -> None:
        for name in names:
            if name not in self.flags:
                self.flags = [*self.flags, name]
        if reason:
            self.needs_attention = True
            lines = [line for line in self.attention_reason.splitlines() if line]
            if reason not in lines:
                self.attention_reason = "\n".join([*lines, reason])


class CallbackEvent(models.Model):
    """Every callback as received, stored before anything else happens
    (the dj-stripe pattern): nothing is lost and everything can be replayed."""

    class Outcome(models.TextChoices):
        RECEIVED = "received"  # stored, not handled yet (or handling crashed)
        PROCESSED = "processed"  # verified, re-read, acted on
        IGNORED = "ignored"  # deliberately not acted on (unknown invoice, duplicate)
        REJECTED = "rejected"  # failed verification or malformed
        FAILED = "failed"  # a retryable error; the provider will send again

    provider = models.CharField(max_length=32, choices=PROVIDERS)
    channel_slug = models.CharField(max_length=255, blank=True, default="")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    remote_addr = models.CharField(max_length=64, blank=True, default="")
    path = models.CharField(max_length=255, blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)  # minus credentials
    content_type = models.CharField(max_length=255, blank=True, default="")
    body = models.TextField(blank=True, default="")  # with verify tokens masked
    fields = models.JSONField(default=list, blank=True)  # ordered [key, value] pairs, masked

    provider_invoice_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="callbacks"
    )
    verified = models.BooleanField(null=True)
    outcome = models.CharField(
        max_length=16, choices=Outcome.choices, default=Outcome.RECEIVED, db_index=True
    )
    result = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-received_at",)

    def __str__(self) -> str:
        return f"{self.provider} callback #{self.pk} {self.outcome}"


class StaffTask(models.Model):
    """Something only a person can do (refund coins, sort out a late payment)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="staff_tasks")
    kind = models.CharField(max_length=32)
    message = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=("invoice", "kind"),
                condition=models.Q(resolved_at__isnull=True),
                name="cryptopay_one_open_task_per_kind",
            )
        ]


class NonceCounter(models.Model):
    """The last CoinPay.in.th nonce per API key, shared by every process and
    host that uses the key. ``key_digest`` is a SHA-256 of the key, not the key."""

    key_digest = models.CharField(max_length=64, primary_key=True)
    value = models.BigIntegerField(default=0)


class QuotaKey(models.Model):
    """One provider API key's shared quota state. ``key_digest`` is a SHA-256
    of the key, not the key. The row is also the lock every process takes
    before counting a call."""

    key_digest = models.CharField(max_length=64, primary_key=True)
    provider = models.CharField(max_length=32, choices=PROVIDERS)
    # the provider answered 429: no process calls before this (Unix time)
    blocked_until = models.FloatField(default=0.0)


class QuotaCall(models.Model):
    """One provider call counted against a key's quota windows (kept for the
    longest window only)."""

    key_digest = models.CharField(max_length=64)
    at = models.FloatField()  # Unix time, shared by every host
    path = models.CharField(max_length=64, blank=True, default="")  # when a window counts it
    priority = models.CharField(max_length=16)
    # 2 for an invoice creation that booked its callback's re-read; that
    # re-read takes it back to 1 (providers.quota.FOLLOW_UPS)
    weight = models.PositiveSmallIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=("key_digest", "at"), name="cryptopay_quota_key_at")]


class RefundRequest(models.Model):
    """Coins owed back to a shopper for one invoice: from the staff's refund
    until the payout is sent (and recorded in Saleor)."""

    class Status(models.TextChoices):
        AWAITING_ADDRESS = "awaiting_address"  # the shopper has not claimed it yet
        QUEUED = "queued"  # address known: the payout queue will send it
        SENDING = "sending"  # a worker took it; committed before the provider call
        SENT = "sent"  # coins left (payout id or a txid entered by staff)
        FAILED = "failed"  # the provider refused clearly: fix, then retry
        NEEDS_ATTENTION = "needs_attention"  # outcome unknown: never retried automatically

    class RateSource(models.TextChoices):
        INVOICE = "invoice"  # the rate the shopper paid at
        CURRENT = "current"  # the provider's rate when the refund was requested

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds")
    channel_slug = models.CharField(max_length=255)
    payment_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    order_id = models.CharField(max_length=36, null=True, blank=True, db_index=True)

    amount = models.DecimalField(**MONEY)  # in the order's currency
    currency = models.CharField(max_length=8)
    coin = models.CharField(max_length=16)
    crypto_amount = models.DecimalField(**CRYPTO)
    rate = models.DecimalField(**CRYPTO)  # coins per unit of ``currency``
    rate_source = models.CharField(max_length=16, choices=RateSource.choices)

    address = models.CharField(max_length=128, blank=True, default="")
    address_user_hash = models.CharField(max_length=128, blank=True, default="")
    address_set_by = models.CharField(max_length=255, blank=True, default="")
    address_set_at = models.DateTimeField(null=True, blank=True)

    # the claim link: a signed token carries (pk, claim_nonce); using it
    # clears the nonce, so the link works once
    claim_nonce = models.CharField(max_length=64, blank=True, default="")
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    claim_used_at = models.DateTimeField(null=True, blank=True)
    claim_checks = models.PositiveIntegerField(default=0)  # provider address checks spent

    status = models.CharField(
        max_length=32, choices=Status.choices, default=Status.AWAITING_ADDRESS, db_index=True
    )
    refused_code = models.CharField(max_length=64, blank=True, default="")
    refused_reason = models.TextField(blank=True, default="")
    payout_id = models.CharField(max_length=128, blank=True, default="")
    txid = models.CharField(max_length=128, blank=True, default="")

    requested_by = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.CharField(max_length=255, blank=True, default="")
    # when the edition (Saleor plugin, App) recorded the sent refund on its side
    recorded_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"refund #{self.pk} {self.fiat_text} ({self.coins_text}) {self.status}"

    @property
    def fiat_text(self) -> str:
        """The amount as staff read it: ``20.00 USD``, not the column's ``20.000``."""
        return f"{format_amount(self.amount, self.currency)} {self.currency}"

    @property
    def coins_text(self) -> str:
        """The coins, exactly, without the column's trailing zeros: ``0.0005 BTC``."""
        return f"{plain_decimal(self.crypto_amount)} {self.coin}"


class Payout(models.Model):
    """One attempt to send a refund's coins. The row exists (``sending``,
    committed) before the provider is called, so a crash leaves a trace."""

    class Status(models.TextChoices):
        SENDING = "sending"
        SENT = "sent"
        REFUSED = "refused"  # the provider answered with an error: nothing sent
        UNKNOWN = "unknown"  # no clear answer: coins may have left

    refund = models.ForeignKey(RefundRequest, on_delete=models.PROTECT, related_name="payouts")
    provider = models.CharField(max_length=32, default="icoinpay")
    currency = models.CharField(max_length=16)
    amount = models.DecimalField(**CRYPTO)
    address = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENDING)
    payout_id = models.CharField(max_length=128, blank=True, default="")
    error_code = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-started_at",)
        constraints = [
            # at most one attempt in flight per refund, whatever the workers do
            models.UniqueConstraint(
                fields=("refund",),
                condition=models.Q(status="sending"),
                name="cryptopay_one_payout_in_flight",
            )
        ]


class WalletBalance(models.Model):
    """The payout wallet's balance as the last ``send`` answered it (the
    provider asks for this instead of polling getbalance)."""

    provider = models.CharField(max_length=32)
    key_digest = models.CharField(max_length=64)  # SHA-256 of the API key
    currency = models.CharField(max_length=16)
    balance = models.DecimalField(**CRYPTO)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("provider", "key_digest", "currency"), name="cryptopay_one_balance"
            )
        ]


class AddressCheck(models.Model):
    """A provider's answer about an address, kept so it is asked once
    (address, valid_result, time_checked, user_hash: the provider's advice)."""

    provider = models.CharField(max_length=32)
    currency = models.CharField(max_length=16)
    address = models.CharField(max_length=128)
    valid = models.BooleanField()
    user_hash = models.CharField(max_length=128, blank=True, default="")
    message = models.TextField(blank=True, default="")
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("provider", "currency", "address"), name="cryptopay_one_address_check"
            )
        ]
