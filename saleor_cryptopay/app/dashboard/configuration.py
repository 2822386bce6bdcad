"""The configuration page: one provider in one channel, as
``cryptopay-app configure`` (``configure.save_configuration``: the same
validation and credential check). Secrets are write-only: the form never
holds them; a blank secret field keeps what is saved."""

from __future__ import annotations

from typing import Optional

from django.http import HttpRequest

from ...gateway_config import (
    ACTION_NAME_CHOICES,
    COMMON_FIELDS,
    DEFAULTS,
    ORDER_CREATION_CHOICES,
    PROVIDER_FIELDS,
    PROVIDER_NAMES,
    REFUND_FIELDS,
    SECRET_FIELDS,
    SECRET_REFUND_FIELDS,
)
from ...refunds.payouts import known_balance
from ...refunds.settings import REFUND_DEFAULTS, REFUND_RATES, payout_client_from, payout_coin
from .. import secrets_box
from ..checks import check_configuration
from ..configure import ConfigurationRefused, save_configuration
from ..models import ChannelConfiguration
from .auth import Staff
from .html import Flash, copyable, e, hidden, page, table

LABELS = {
    "api_key": "API key",
    "api_secret": "API secret",
    "api_base_url": "API base URL (leave blank for live; the sandbox URL to test)",
    "supported_currencies": "Supported currencies (e.g. USD,EUR)",
    "order_creation": "Order creation",
    "underpaid_tolerance_percent": "Underpayment tolerance (%, 0-10)",
    "invoice_title": "Invoice title ({reference} {channel} {checkout} {amount} {currency})",
    "invoice_description": "Invoice description (same placeholders)",
    "reconcile_calls_per_run": "Reconciliation API calls per run",
    "white_label_currency": "White-label coin (CoinPay24, optional)",
    "action_names": "Action names (CoinPay.in.th)",
    "keep_percent": "Keep percent (CoinPay.in.th, optional)",
    "icoinpay_api_key": "iCoinPay API key (refund payouts; optional)",
    "icoinpay_api_base_url": "iCoinPay API base URL",
    "icoinpay_currency": "Refund coin",
    "refund_rate": "Refund exchange rate",
    "refund_claim_days": "Refund link lifetime (days, 1-90)",
}
CHOICES = {
    "order_creation": ORDER_CREATION_CHOICES,
    "action_names": ACTION_NAME_CHOICES,
    "refund_rate": REFUND_RATES,
}
SECRETS = ("api_key", "api_secret", *SECRET_REFUND_FIELDS)


def _fields(provider: str) -> list[str]:
    names = [*SECRET_FIELDS[provider], *COMMON_FIELDS, *PROVIDER_FIELDS[provider]]
    return [n for n in names if n != "api_base_url"] + ["api_base_url"]


def _configs(staff: Staff):
    return ChannelConfiguration.objects.filter(installation=staff.installation).order_by(
        "channel_slug", "provider"
    )


def render(staff: Staff, request: HttpRequest, flash: Optional[Flash]) -> str:
    editing = _editing(staff, request)
    errors: dict[str, str] = getattr(request, "cryptopay_errors", {})
    findings = getattr(request, "cryptopay_findings", None)
    body = _list(staff, findings) + _form(staff, request, editing, errors)
    return page("Configuration", body, current="configuration", flash=flash)


def _editing(staff: Staff, request: HttpRequest) -> Optional[ChannelConfiguration]:
    pk = request.GET.get("config") or request.POST.get("config")
    if not (pk and str(pk).isdigit()):
        return None
    return _configs(staff).filter(pk=int(pk)).first()


def _list(staff: Staff, findings) -> str:
    rows = []
    for config in _configs(staff):
        state = "active" if config.active else "inactive"
        toggle = "deactivate" if config.active else "activate"
        checks = ""
        if findings and findings[0] == config.pk:
            checks = (
                "".join(
                    f"<li class='finding-{e(f.level)}'>{e(f.level.upper())} {e(f.field)}: "
                    f"{e(f.message)}{' → ' + e(f.hint) if f.hint else ''}</li>"
                    for f in findings[1]
                )
                or "<li>All checks passed.</li>"
            )
            checks = f"<ul data-findings>{checks}</ul>"
        rows.append(
            f"<tr data-config='{config.pk}'><td>{e(config.channel_slug)}</td>"
            f"<td>{e(config.provider_name)}</td><td>{state}</td>"
            f"<td>{copyable(config.callback_url)}{checks}</td><td>{_wallet(config)}</td>"
            f"<td><a href='#' data-page='configuration' data-query='config={config.pk}'>Edit</a>"
            f"<form data-action='configuration-check' class='inline'>{hidden('config', config.pk)}"
            "<button>Run setup checks</button></form>"
            f"<form data-action='configuration-{toggle}' class='inline'>"
            f"{hidden('config', config.pk)}<button>{toggle.title()}</button></form></td></tr>"
        )
    return "<h2>Channels</h2>" + table(
        ("Channel", "Provider", "State", "Provider callback URL", "Payout wallet", ""),
        rows,
        "No channel offers crypto payments yet: fill in the form below.",
    )


def _wallet(config: ChannelConfiguration) -> str:
    values = {**config.values, **secrets_box.decrypt_json(config.secrets_encrypted)}
    client = payout_client_from(values)
    if client is None:
        return "no iCoinPay key: refunds are paid by hand"
    coin = payout_coin(values)
    balance = known_balance(client, coin)
    if balance is None:
        return f"{e(coin)}: balance not known yet (shown after the first payout)"
    return (
        f"{e(coin)}: {e(format(balance.balance.normalize(), 'f'))} "
        f"(after the last payout, {balance.updated_at:%Y-%m-%d %H:%M} UTC)"
    )


def _form(
    staff: Staff,
    request: HttpRequest,
    editing: Optional[ChannelConfiguration],
    errors: dict[str, str],
) -> str:
    posted = request.POST if request.method == "POST" else {}
    provider = (editing.provider if editing else posted.get("provider")) or "coinpay24"
    saved = (
        {**DEFAULTS, **REFUND_DEFAULTS, **editing.values}
        if editing
        else {**DEFAULTS, **REFUND_DEFAULTS}
    )
    saved_secrets = secrets_box.decrypt_json(editing.secrets_encrypted) if editing else {}
    title = (
        f"Edit {editing.provider_name} in channel {editing.channel_slug}"
        if editing
        else "Offer a provider in a channel"
    )
    head = (
        f"<label for='f-channel'>Channel slug</label><input id='f-channel' name='channel' "
        f"value='{e(editing.channel_slug if editing else posted.get('channel', ''))}' "
        f"{'readonly' if editing else 'required'}>"
        "<label for='f-provider'>Provider</label><select id='f-provider' name='provider'>"
        + "".join(
            f"<option value='{p}'{' selected' if p == provider else ''}>{e(n)}</option>"
            for p, n in PROVIDER_NAMES.items()
            if not editing or p == provider
        )
        + "</select>"
    )
    sections = []
    for prov, name in PROVIDER_NAMES.items():
        if editing and prov != provider:
            continue
        inputs = "".join(
            _input(
                f"{prov}-{f}", f, saved, saved_secrets, posted, errors if prov == provider else {}
            )
            for f in _fields(prov)
        )
        sections.append(
            f"<fieldset data-provider='{prov}'><legend>{e(name)} "
            f"(used when the provider above is {e(name)})</legend>{inputs}</fieldset>"
        )
    refunds = "".join(
        _input(f"refund-{f}", f, saved, saved_secrets, posted, errors)
        for f in (*SECRET_REFUND_FIELDS, *REFUND_FIELDS)
    )
    check = "" if posted.get("no_check") else " checked"
    return (
        f"<h2>{e(title)}</h2><form data-action='save-configuration' autocomplete='off'>"
        f"{hidden('config', editing.pk) if editing else ''}{head}{''.join(sections)}"
        f"<fieldset><legend>Refunds and the payout wallet</legend>{refunds}</fieldset>"
        f"<label><input type='checkbox' name='check' value='1'{check}> Check the credentials "
        "with the provider before saving</label>"
        "<label><input type='checkbox' name='inactive' value='1'"
        f"{' checked' if editing and not editing.active else ''}> Save, but do not offer it "
        "yet</label><p><button class='primary' name='save' value='1'>Save</button></p></form>"
    )


def _input(
    prefix: str, name: str, saved: dict, saved_secrets: dict, posted, errors: dict[str, str]
) -> str:
    field_id = f"f-{prefix}"
    form_name = f"{prefix.split('-')[0]}.{name}"
    label = f"<label for='{field_id}'>{e(LABELS.get(name, name))}</label>"
    error = (
        f"<p class='field-error' data-error='{e(name)}'>{e(errors[name])}</p>"
        if name in errors
        else ""
    )
    if name in SECRETS:
        # write-only: the saved value never goes back to the browser
        hint = "saved: leave blank to keep it" if saved_secrets.get(name) else "not set"
        return (
            f"{label}<input id='{field_id}' name='{e(form_name)}' type='password' value='' "
            f"placeholder='{e(hint)}' autocomplete='new-password'>{error}"
        )
    value = posted.get(form_name, saved.get(name, "")) if posted else saved.get(name, "")
    if name in CHOICES:
        options = "".join(
            f"<option{' selected' if str(value) == c else ''}>{e(c)}</option>"
            for c in CHOICES[name]
        )
        return f"{label}<select id='{field_id}' name='{e(form_name)}'>{options}</select>{error}"
    return f"{label}<input id='{field_id}' name='{e(form_name)}' value='{e(value)}'>{error}"


def save(staff: Staff, request: HttpRequest) -> tuple[str, Flash]:
    editing = _editing(staff, request)
    provider = editing.provider if editing else request.POST.get("provider", "")
    channel = editing.channel_slug if editing else request.POST.get("channel", "").strip()
    if provider not in PROVIDER_NAMES or not channel:
        return "configuration", Flash("error", "Enter a channel slug and choose a provider.")
    values = {}
    for name in _fields(provider):
        _take(values, request, f"{provider}.{name}", name)
    for name in (*SECRET_REFUND_FIELDS, *REFUND_FIELDS):
        _take(values, request, f"refund.{name}", name)
    try:
        config, note = save_configuration(
            saleor_api_url=staff.installation.saleor_api_url,
            channel=channel,
            provider=provider,
            values=values,
            active=not request.POST.get("inactive"),
            check=bool(request.POST.get("check")),
        )
    except ConfigurationRefused as exc:
        request.cryptopay_errors = exc.errors  # type: ignore[attr-defined]
        return "configuration", Flash("error", f"Not saved: {exc}")
    text = f"Saved {config.provider_name} in channel {config.channel_slug}"
    return "configuration", Flash("success", f"{text}; {note}." if note else f"{text}.")


def _take(values: dict, request: HttpRequest, form_name: str, name: str) -> None:
    if form_name not in request.POST:
        return
    value = request.POST[form_name].strip()
    if name in SECRETS and not value:
        return  # blank secret: keep the saved one
    values[name] = value


def run_checks(staff: Staff, request: HttpRequest) -> tuple[str, Flash]:
    config = _configs(staff).filter(pk=_pk(request)).first()
    if config is None:
        return "configuration", Flash("error", "No such configuration.")
    findings = check_configuration(config)
    request.cryptopay_findings = (config.pk, findings)  # type: ignore[attr-defined]
    problems = sum(1 for f in findings if f.level == "error")
    if problems:
        return "configuration", Flash("error", f"{problems} problem(s) will stop payments.")
    return "configuration", Flash("success", f"Setup checks of {config} done.")


def set_active(active: bool):
    def act(staff: Staff, request: HttpRequest) -> tuple[str, Flash]:
        config = _configs(staff).filter(pk=_pk(request)).first()
        if config is None:
            return "configuration", Flash("error", "No such configuration.")
        try:  # activating checks the credentials, as `configure` does
            save_configuration(
                saleor_api_url=staff.installation.saleor_api_url,
                channel=config.channel_slug,
                provider=config.provider,
                values={},
                active=active,
                check=active,
            )
        except ConfigurationRefused as exc:
            return "configuration", Flash("error", f"Not activated: {exc}")
        word = "now offered" if active else "no longer offered"
        return "configuration", Flash(
            "success", f"{config.provider_name} is {word} in channel {config.channel_slug}."
        )

    return act


def _pk(request: HttpRequest) -> int:
    pk = request.POST.get("config", "")
    return int(pk) if pk.isdigit() else 0
