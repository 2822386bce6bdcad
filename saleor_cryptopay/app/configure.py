"""Save a channel configuration: validate like the plugin does, check the
credentials with one provider call, store them encrypted."""

from __future__ import annotations

from typing import Any, Optional

from django.db import transaction

from ..gateway_config import DEFAULTS, SECRET_FIELDS, SECRET_REFUND_FIELDS, validate
from ..providers.errors import ProviderError
from ..refunds.settings import REFUND_DEFAULTS, validate_refund_fields
from .models import ChannelConfiguration, Installation
from .saleor_api import normalise_api_url


class ConfigurationRefused(Exception):
    """``errors``: field name → problem, for a form to show beside each field."""

    def __init__(self, message: str, errors: Optional[dict[str, str]] = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


def save_configuration(
    *,
    saleor_api_url: str,
    channel: str,
    provider: str,
    values: dict[str, Any],
    active: bool = True,
    check: bool = True,
) -> tuple[ChannelConfiguration, Optional[str]]:
    """Create or update; fields not given keep their saved (or default) value.
    Returns the configuration and a note for the operator."""
    installation = Installation.objects.filter(
        saleor_api_url=normalise_api_url(saleor_api_url)
    ).first()
    if installation is None:
        raise ConfigurationRefused(
            f"no Saleor installed at {saleor_api_url}: install the App first (appInstall)"
        )
    config = ChannelConfiguration.objects.filter(
        installation=installation, channel_slug=channel, provider=provider
    ).first() or ChannelConfiguration(
        installation=installation, channel_slug=channel, provider=provider
    )
    secret_names = SECRET_FIELDS[provider] + SECRET_REFUND_FIELDS
    saved = config.settings.values if config.pk else {**DEFAULTS, **REFUND_DEFAULTS}
    merged = {**saved, **values}
    errors = validate(provider, merged, app=True)
    if not errors:  # the iCoinPay key is tried (one balance call) unless --no-check
        errors = validate_refund_fields(merged, check=check)
    if errors:
        raise ConfigurationRefused(
            "; ".join(f"--{k.replace('_', '-')}: {v}" for k, v in sorted(errors.items())),
            errors,
        )
    config.values = {k: v for k, v in merged.items() if k not in secret_names}
    config.set_secrets({k: str(merged.get(k) or "").strip() for k in secret_names})
    config.active = active
    note = None
    if check:
        from ..bridges.factory import check_credentials

        try:
            check_credentials(config.build_bridge())
        except ProviderError as exc:
            # the provider's words, never ours: they hold no secret
            message = f"the provider refused the credentials: {exc}"
            raise ConfigurationRefused(message, {"api_key": message}) from None
        note = "credentials checked with the provider"
    with transaction.atomic():
        config.save()
    return config, note
