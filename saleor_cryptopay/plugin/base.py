"""Shared Saleor plugin behaviour for the crypto gateways (legacy Payment API)."""

from __future__ import annotations

import logging
from typing import Any, Optional
from urllib.parse import urljoin

from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseNotFound
from django.urls import reverse
from saleor.core.utils import build_absolute_uri
from saleor.graphql.core.enums import PluginErrorCode
from saleor.payment import TransactionKind
from saleor.payment.interface import GatewayResponse, PaymentData
from saleor.plugins.base_plugin import BasePlugin, ConfigurationTypeField

from ..bridges.base import ProviderBridge
from ..gateway_config import REQUIRED, GatewaySettings, parse_settings, problems
from ..models import Invoice
from ..providers.errors import ProviderError
from ..providers.quota import CALLBACK, CHECKOUT
from ..sync import open_task
from . import payment_page, payments, refunds
from .callbacks import handle_callback
from .config import (
    CALLBACK_PATH,
    CLAIM_PREFIX,
    COMMON_DEFAULTS,
    PAY_PREFIX,
    REFUND_DEFAULTS,
    as_dict,
    common_structure,
    refund_structure,
)
from .setup_checks import check_on_save

logger = logging.getLogger(__name__)

T = ConfigurationTypeField
COMMON_STRUCTURE = {**common_structure(T.STRING, T.OUTPUT), **refund_structure(T.STRING, T.SECRET)}


def callback_url(plugin_id: str, channel_slug: str) -> str:
    path = reverse(
        "plugins-per-channel", kwargs={"plugin_id": plugin_id, "channel_slug": channel_slug}
    )
    return urljoin(build_absolute_uri(path), CALLBACK_PATH.lstrip("/"))


class CryptoGatewayPlugin(BasePlugin):
    """Subclasses set the ids, the credential fields and ``build_bridge``, and
    define ``process_payment`` in their own class body (Saleor lists a gateway
    only then)."""

    PROVIDER = ""
    LIVE_BASE_URL = ""
    CONFIGURATION_PER_CHANNEL = True
    DEFAULT_ACTIVE = False

    def __init__(self, *, configuration, **kwargs):
        channel = kwargs.get("channel")
        raw = [dict(item) for item in (configuration or [])]
        if channel is not None:
            # the OUTPUT field shows the merchant where callbacks go
            url = callback_url(self.PLUGIN_ID, channel.slug)
            raw = [item for item in raw if item.get("name") != "callback_url"]
            raw.append({"name": "callback_url", "value": url})
        super().__init__(configuration=raw, **kwargs)
        self.settings: GatewaySettings = parse_settings(
            as_dict(self.configuration), self.LIVE_BASE_URL, default_currencies=""
        )

    # -- to implement -------------------------------------------------------

    def build_bridge(self, priority: str = CHECKOUT) -> ProviderBridge:
        """The provider bridge; its calls draw on the key's shared quota at
        ``priority`` (providers.quota.PRIORITIES)."""
        raise NotImplementedError

    # -- helpers --------------------------------------------------------------

    @property
    def channel_slug(self) -> str:
        return self.channel.slug if self.channel else ""

    def _callback_url(self) -> str:
        return callback_url(self.PLUGIN_ID, self.channel_slug)

    def _unsupported(self, info: PaymentData) -> Optional[GatewayResponse]:
        if info.currency.upper() not in self.settings.supported_currencies:
            return payments.error_response(
                info, f"{self.PLUGIN_NAME} does not accept {info.currency} in this channel."
            )
        if not self.channel:
            return payments.error_response(info, "This gateway is configured per channel.")
        return None

    def _process_payment(self, info: PaymentData) -> GatewayResponse:
        refused = self._unsupported(info)
        if refused:
            return refused
        txn = payments.captured_transaction(info.payment_id)
        if txn:  # paid already (a callback won the race): never a second invoice
            return payments.already_processed(txn)
        bridge = self.build_bridge()
        try:
            invoice = payments.open_invoice(
                info,
                bridge,
                self.settings,
                channel_slug=self.channel_slug,
                callback_url=self._callback_url(),
            )
        except ProviderError as exc:
            logger.warning("cryptopay: invoice creation failed: %s", exc)
            return payments.error_response(
                info, payments.provider_error_message(self.PLUGIN_NAME, exc)
            )
        payments.publish(info.payment_id, invoice)
        return payments.pending_response(info, invoice, self.settings)

    # -- Saleor hooks ---------------------------------------------------------

    def confirm_payment(self, payment_information: PaymentData, previous_value):
        if not self.active:
            return previous_value
        refused = self._unsupported(payment_information)
        if refused:
            return refused
        return payments.confirm(
            payment_information,
            self.build_bridge(),
            self.settings,
            channel_slug=self.channel_slug,
            callback_url=self._callback_url(),
        )

    def capture_payment(self, payment_information: PaymentData, previous_value):
        if not self.active:
            return previous_value
        txn = payments.captured_transaction(payment_information.payment_id)
        if txn and txn.kind == TransactionKind.CAPTURE:
            return payments.already_processed(txn)
        return self._refusal(
            payment_information,
            TransactionKind.CAPTURE,
            "Crypto payments are captured when the coins arrive; there is nothing to capture.",
        )

    def refund_payment(self, payment_information: PaymentData, previous_value):
        if not self.active:
            return previous_value
        if payment_information.order_id:  # a staff refund (not a failed checkout's)
            return refunds.request_from_saleor(self, payment_information)
        message = (
            f"{self.PLUGIN_NAME} cannot refund through its API. A refund task was recorded: "
            "send the coins back from the provider's dashboard, then mark the order refunded."
        )
        invoice = Invoice.objects.filter(payment_id=payment_information.payment_id).first()
        if invoice is not None:
            open_task(
                invoice,
                "refund",
                f"Refund of {payment_information.amount} {payment_information.currency} requested",
            )
        return self._refusal(payment_information, TransactionKind.REFUND, message)

    def void_payment(self, payment_information: PaymentData, previous_value):
        if not self.active:
            return previous_value
        return self._refusal(
            payment_information,
            TransactionKind.VOID,
            "A crypto invoice cannot be voided; an unpaid one simply expires.",
        )

    def _refusal(self, info: PaymentData, kind: str, message: str) -> GatewayResponse:
        return GatewayResponse(
            is_success=False,
            action_required=False,
            kind=kind,
            amount=info.amount,
            currency=info.currency,
            transaction_id=info.token or "",
            error=message,
            raw_response={},
        )

    def token_is_required_as_payment_input(self, previous_value):
        if not self.active:
            return previous_value
        return False

    def get_supported_currencies(self, previous_value):
        if not self.active:
            return previous_value
        return self.settings.supported_currencies

    def get_payment_config(self, previous_value):
        if not self.active:
            return previous_value
        return [
            {"field": "provider", "value": self.PROVIDER},
            {"field": "order_creation", "value": self.settings.order_creation},
        ]

    def webhook(self, request, path: str, previous_value) -> HttpResponse:
        if not self.active or not self.channel:
            return HttpResponseNotFound()
        if path.startswith(PAY_PREFIX):
            return payment_page.serve(self, request, path[len(PAY_PREFIX) :])
        if path.startswith(CLAIM_PREFIX):
            return refunds.claim_page(self, request, path[len(CLAIM_PREFIX) :].rstrip("/"))
        if path.rstrip("/") != CALLBACK_PATH:
            return HttpResponseNotFound()
        return handle_callback(
            request,
            self.build_bridge(CALLBACK),
            channel_slug=self.channel_slug,
            tolerance=self.settings.underpaid_tolerance,
        )

    @classmethod
    def validate_plugin_configuration(cls, plugin_configuration, **kwargs):
        if not plugin_configuration.active:
            return
        values = as_dict(plugin_configuration.configuration)
        errors: dict[str, Any] = {
            name: ValidationError(
                message,
                code=PluginErrorCode.REQUIRED.value
                if kind == REQUIRED
                else PluginErrorCode.INVALID.value,
            )
            for name, (message, kind) in problems(cls.PROVIDER, values).items()
        }
        errors.update(refunds.config_errors(values))
        if errors:
            raise ValidationError(errors)
        check_on_save(cls, plugin_configuration)  # provider call: only once all else is valid

    @classmethod
    def credential_check_options(cls, values: dict) -> dict:
        """Extra arguments for the provider's credential check (setup_checks)."""
        return {}


def structure(provider_fields: dict) -> dict:
    return {**provider_fields, **COMMON_STRUCTURE}


def defaults(provider_defaults: list[dict], base_url: str) -> list[dict]:
    return [
        *provider_defaults,
        {"name": "api_base_url", "value": base_url},
        *COMMON_DEFAULTS,
        *REFUND_DEFAULTS,
    ]
