"""``cryptopay-app check``: every active channel configuration as the provider
sees it, with the same core checks the plugin runs on save (credentials: one
cheap authenticated call; callbacks: the public URL classified and probed)."""

from __future__ import annotations

from typing import Optional

from django.conf import settings

from ..setup_checks import Audience, Finding, Level, check_callback_url, check_credentials
from . import problems, secrets_box
from .models import ChannelConfiguration
from .saleor_api import normalise_api_url


def audience(config: ChannelConfiguration) -> Audience:
    """The core checks' advice in the App's words."""
    return Audience(
        setting="APP_URL",
        server="the App",
        receiver="this App",
        callback_path="/api/callbacks/",
        callback_pattern="/api/callbacks/…",
        provider=config.provider_name,
        recheck="cryptopay-app check",
    )


def app_url_finding() -> Optional[Finding]:
    """APP_URL unset: the App runs on its default, which nobody outside reaches."""
    if str(getattr(settings, "APP_URL", "") or "").strip() and not getattr(
        settings, "APP_URL_DEFAULTED", False
    ):
        return None
    return Finding(
        Level.ERROR,
        "APP_URL",
        f"APP_URL is not set: the App uses its default {settings.APP_URL}, which neither "
        "Saleor nor the providers can reach (manifest, webhooks and callback URLs use it).",
        "Set APP_URL to the App's public https URL in the environment of every `serve` "
        "process and worker.",
    )


def check_configuration(config: ChannelConfiguration) -> list[Finding]:
    values = {**config.values, **secrets_box.decrypt_json(config.secrets_encrypted)}
    findings = check_credentials(config.provider, values)
    missing = app_url_finding()  # reported once by check_all's caller; the URL is not real
    if not missing:
        findings = findings + check_callback_url(config.callback_url, audience=audience(config))
    # Saleor 3.22.36+ shows them in the Dashboard's app list too
    problems.from_findings(
        config.installation,
        f"{config.channel_slug}/{config.provider}",
        [*findings, missing] if missing else findings,
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
        configs = configs.filter(installation__saleor_api_url=normalise_api_url(saleor_api_url))
    if channel:
        configs = configs.filter(channel_slug=channel)
    if provider:
        configs = configs.filter(provider=provider)
    return [(config, check_configuration(config)) for config in configs.order_by("pk")]
