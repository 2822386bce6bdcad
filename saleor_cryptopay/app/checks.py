"""``cryptopay-app check``: every active channel configuration as the provider
sees it, with the same core checks the plugin runs on save (credentials: one
cheap authenticated call; callbacks: the public URL classified and probed)."""

from __future__ import annotations

from typing import Optional

from django.conf import settings

from ..setup_checks import Finding, Level, check_callback_url, check_credentials
from . import problems, secrets_box
from .models import ChannelConfiguration


def app_url_finding() -> Optional[Finding]:
    if str(getattr(settings, "APP_URL", "") or "").strip():
        return None
    return Finding(
        Level.ERROR,
        "APP_URL",
        "APP_URL is not set: providers and Saleor cannot reach the App.",
        "Set APP_URL to the App's public https URL.",
    )


def check_configuration(config: ChannelConfiguration) -> list[Finding]:
    values = {**config.values, **secrets_box.decrypt_json(config.secrets_encrypted)}
    findings = check_credentials(config.provider, values)
    missing = app_url_finding()
    findings = (
        [*findings, missing] if missing else findings + check_callback_url(config.callback_url)
    )
    # Saleor 3.22.36+ shows them in the Dashboard's app list too
    problems.from_findings(
        config.installation, f"{config.channel_slug}/{config.provider}", findings
    )
    return findings


def check_all(
    *,
    saleor_api_url: Optional[str] = None,
    channel: Optional[str] = None,
    provider: Optional[str] = None,
) -> list[tuple[ChannelConfiguration, list[Finding]]]:
    configs = ChannelConfiguration.objects.select_related("installation").filter(active=True)
    if saleor_api_url:
        configs = configs.filter(installation__saleor_api_url=saleor_api_url)
    if channel:
        configs = configs.filter(channel_slug=channel)
    if provider:
        configs = configs.filter(provider=provider)
    return [(config, check_configuration(config)) for config in configs.order_by("pk")]
