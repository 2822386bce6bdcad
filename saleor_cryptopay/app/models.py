"""The App's own tables: Saleor installations, channel configurations and the
outbox of reports to Saleor. Secrets are stored encrypted (``secrets_box``)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from ..bridges.base import ProviderBridge
from ..bridges.factory import LIVE_BASE_URLS, build_bridge
from ..gateway_config import PROVIDER_NAMES, GatewaySettings, parse_settings
from ..models import MONEY, PROVIDERS, Invoice, RefundRequest
from ..providers.quota import CHECKOUT
from . import secrets_box


class Installation(models.Model):
    """One Saleor instance that installed the App (one deployment may serve several)."""

    saleor_api_url = models.CharField(max_length=255, unique=True)  # …/graphql/
    domain = models.CharField(max_length=255, blank=True, default="")
    app_id = models.CharField(max_length=255)  # the App's global id in that Saleor
    token_encrypted = models.TextField()
    jwks = models.JSONField(default=dict, blank=True)  # public keys, cached
    jwks_fetched_at = models.DateTimeField(null=True, blank=True)
    # set when Saleor deleted the App (APP_DELETED): token gone, nothing sent;
    # its invoices, refunds and history stay for a reinstall to pick up
    removed_at = models.DateTimeField(null=True, blank=True)
    # the Saleor version last seen (``saleor_version``): chooses features
    saleor_version = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.saleor_api_url

    def __repr__(self) -> str:  # never the token
        return f"Installation({self.saleor_api_url!r}, app_id={self.app_id!r})"

    @property
    def token(self) -> str:
        return secrets_box.decrypt(self.token_encrypted)

    def set_token(self, token: str) -> None:
        self.token_encrypted = secrets_box.encrypt(token)


def _callback_key() -> str:
    return secrets.token_urlsafe(18)


class ChannelConfiguration(models.Model):
    """A provider offered in one channel of one Saleor: the plugin's fields,
    credentials encrypted."""

    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="configurations"
    )
    channel_slug = models.CharField(max_length=255)
    provider = models.CharField(max_length=32, choices=PROVIDERS)
    active = models.BooleanField(default=True)
    values = models.JSONField(default=dict, blank=True)  # non-secret fields
    secrets_encrypted = models.TextField(blank=True, default="")
    # in the provider callback URL: unguessable, so a URL names one configuration
    callback_key = models.CharField(max_length=32, unique=True, default=_callback_key)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("installation", "channel_slug", "provider"),
                name="cryptopay_app_one_config_per_channel_provider",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} @ {self.channel_slug} ({self.installation})"

    @property
    def provider_name(self) -> str:
        return PROVIDER_NAMES.get(self.provider, self.provider)

    def set_secrets(self, values: dict[str, str]) -> None:
        self.secrets_encrypted = secrets_box.encrypt_json(values)

    @property
    def settings(self) -> GatewaySettings:
        values = {**self.values, **secrets_box.decrypt_json(self.secrets_encrypted)}
        return parse_settings(values, LIVE_BASE_URLS[self.provider])

    def build_bridge(self, priority: str = CHECKOUT) -> ProviderBridge:
        """Calls draw on the key's shared quota at ``priority``, as the plugin's."""
        return build_bridge(self.provider, self.settings, priority)

    @property
    def callback_url(self) -> str:
        return f"{settings.APP_URL}/api/callbacks/{self.callback_key}"


class OutboxReport(models.Model):
    """A call Saleor must receive: stored in the transaction that decided it,
    sent after commit, retried until Saleor accepts it."""

    EVENT = "event"  # transactionEventReport
    COMPLETE = "complete"  # checkoutComplete
    KINDS = [(EVENT, "transactionEventReport"), (COMPLETE, "checkoutComplete")]

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=KINDS)
    event_type = models.CharField(max_length=32, blank=True, default="")  # e.g. CHARGE_SUCCESS
    # empty: the invoice's (the transaction's pspReference); a refund has its own
    psp_reference = models.CharField(max_length=128, blank=True, default="")
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    message = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    done_at = models.DateTimeField(null=True, blank=True, db_index=True)
    result = models.TextField(blank=True, default="")
    # SQLite: the sender that set this holds the row until then (a lease that
    # works across processes, where the PostgreSQL path holds a row lock)
    sending_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("pk",)
        constraints = [
            models.UniqueConstraint(
                fields=("invoice", "kind", "event_type", "psp_reference"),
                condition=models.Q(done_at__isnull=True),
                name="cryptopay_app_one_pending_report_per_psp",
            )
        ]

    def __str__(self) -> str:
        what = self.event_type or self.kind
        state = "done" if self.done_at else f"pending ({self.attempts} attempts)"
        return f"{what} for invoice {self.invoice_id}: {state}"


class RefundRequestKey(models.Model):
    """Which refund a Saleor refund request made: Saleor sends a request again
    after a 5xx with the same stored payload, and must get the same refund."""

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)  # sha256 of transaction, issuedAt and amount
    refund = models.OneToOneField(RefundRequest, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("installation", "key"), name="cryptopay_app_one_refund_per_request"
            )
        ]


class Heartbeat(models.Model):
    """When a chore (reconcile, payouts, prune) last finished without error,
    as ``/api/health`` shows it; one row per chore, shared by every process."""

    name = models.CharField(max_length=32, primary_key=True)
    succeeded_at = models.DateTimeField()
    summary = models.CharField(max_length=500, blank=True, default="")

    @classmethod
    def beat(cls, name: str, summary: str = "") -> None:
        cls.objects.update_or_create(
            name=name, defaults={"succeeded_at": timezone.now(), "summary": summary[:500]}
        )
