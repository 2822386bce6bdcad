"""Setup checks in the plugin edition: run when a configuration is saved, and
by ``manage.py cryptopay_check`` for every active channel configuration.

On save, credential ERRORs refuse the save with a field error; everything
else (provider down, callback URL problems) never refuses it. Saleor's
pluginUpdate has no warning channel, so the findings are logged and shown in
the read-only ``setup_status`` field of the configuration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from saleor.core.utils import get_public_url
from saleor.graphql.core.enums import PluginErrorCode
from saleor.plugins.models import PluginConfiguration

from ..setup_checks import Finding, Level, check_callback_url, check_credentials, errors
from .config import as_dict

if TYPE_CHECKING:
    from .base import CryptoGatewayPlugin

logger = logging.getLogger(__name__)

STATUS_FIELD = "setup_status"
# on save the probe usually reaches this very Saleor, which answers at once;
# keep the wait short in case a single busy worker cannot answer itself
SAVE_PROBE_TIMEOUT = (2.0, 3.0)


def public_url_finding() -> Optional[Finding]:
    if settings.PUBLIC_URL:
        return None
    return Finding(
        Level.WARNING,
        "PUBLIC_URL",
        f"PUBLIC_URL is not set: Saleor builds the callback URL from the Site domain and "
        f"ENABLE_SSL ({get_public_url()}).",
        "Set PUBLIC_URL=https://<public host of Saleor's API> in Saleor's environment.",
    )


def credential_findings(cls: type[CryptoGatewayPlugin], values: dict[str, Any]) -> list[Finding]:
    return check_credentials(
        cls.PROVIDER,
        values,
        base_url=str(values.get("api_base_url") or "").strip() or cls.LIVE_BASE_URL,
        **cls.credential_check_options(values),
    )


def callback_findings(
    cls: type[CryptoGatewayPlugin], channel_slug: str, **probe_options: Any
) -> list[Finding]:
    from .base import callback_url

    extra = public_url_finding()
    url = callback_url(cls.PLUGIN_ID, channel_slug)
    return [
        *([extra] if extra else []),
        *check_callback_url(url, **probe_options),
    ]


def check_on_save(cls: type[CryptoGatewayPlugin], plugin_configuration: Any) -> None:
    """Called by validate_plugin_configuration once the local checks passed."""
    values = as_dict(plugin_configuration.configuration)
    findings = credential_findings(cls, values)
    refused = errors(findings)
    if refused:
        raise ValidationError(
            {
                f.field: ValidationError(
                    f"{f.message} {f.hint}".strip(), code=PluginErrorCode.INVALID.value
                )
                for f in refused
            }
        )
    channel = getattr(plugin_configuration, "channel", None)
    slug = channel.slug if channel is not None else "-"
    if channel is not None:
        # Saleor routes callbacks only to a configuration already stored active
        live = PluginConfiguration.objects.filter(pk=plugin_configuration.pk, active=True)
        findings += callback_findings(
            cls, channel.slug, pending_activation=not live.exists(), timeout=SAVE_PROBE_TIMEOUT
        )
    for finding in findings:
        if finding.level is not Level.OK:
            logger.warning("cryptopay setup %s @ %s: %s", cls.PROVIDER, slug, finding)
    set_status(plugin_configuration.configuration, findings)


def set_status(configuration: list[dict], findings: list[Finding]) -> None:
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([f"Checked {stamp}", *(str(f) for f in findings)])
    for item in configuration:
        if item.get("name") == STATUS_FIELD:
            item["value"] = text
            return
    configuration.append({"name": STATUS_FIELD, "value": text})


@dataclass
class Checked:
    provider: str
    channel: str
    findings: list[Finding]

    def summary(self) -> str:
        lines = [f"{self.provider} @ {self.channel}"]
        lines += [f"  {line}" for f in self.findings for line in str(f).splitlines()]
        return "\n".join(lines)


def check_all(*, channel: Optional[str] = None, provider: Optional[str] = None) -> list[Checked]:
    from .reconcile import active_plugins

    results = []
    for plugin in active_plugins(channel, provider):
        cls = type(plugin)
        findings = credential_findings(cls, dict(plugin.settings.values))
        findings += callback_findings(cls, plugin.channel_slug)
        results.append(Checked(plugin.PROVIDER, plugin.channel_slug, findings))
    return results
