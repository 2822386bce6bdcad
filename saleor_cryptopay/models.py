"""Invoices, the callback inbox and the nonce counter.

No foreign keys into Saleor's tables: this layer does not depend on Saleor,
and an invoice must outlive a deleted checkout or payment (the money is still
real). Saleor objects are referenced by id and re-read under lock.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

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

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
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
