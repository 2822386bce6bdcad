"""Are the credentials right? One cheap authenticated call per provider.

Run when a configuration is saved and by ``cryptopay_check``. A definite
refusal (wrong key or secret, a URL that is not the provider's API, a
certificate we would refuse) is an ERROR; a provider that is merely down or
busy is a WARNING, since the configuration may well be right. Messages quote
what the provider said, with every secret masked, and never the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

from ..providers import coinpay24, coinpay_th
from ..providers.errors import ProviderError
from ..providers.http import NOT_SENT
from .findings import Finding, Level, redact

logger = logging.getLogger(__name__)

# (connect, read): a save must answer within a few seconds, even when the
# provider hangs.
CHECK_TIMEOUT = (3.0, 4.0)

# values, base URL, timeout, options -> nothing; raises ProviderError
Call = Callable[[Mapping[str, str], str, tuple[float, float], Mapping[str, Any]], None]


@dataclass(frozen=True)
class CredentialCheck:
    name: str  # as the merchant knows the provider
    live_base_url: str
    call: Call  # one cheap authenticated call
    auth_field: str  # the field blamed when the provider refuses
    credentials: str  # how the refused credentials are named in messages
    secret_fields: tuple[str, ...]
    refused_codes: frozenset[str] = frozenset()  # ProviderError codes that mean "refused"
    hint: str = ""  # where to find the right credentials


def _coinpay24(values, base_url, timeout, options) -> None:
    client = coinpay24.CoinPay24Client(values["api_key"], base_url=base_url, timeout=timeout)
    client.list_invoices(per_page=1)


def _coinpay_th(values, base_url, timeout, options) -> None:
    client = coinpay_th.CoinPayThClient(
        values["api_key"],
        values["api_secret"],
        base_url=base_url,
        timeout=timeout,
        nonce_source=options.get("nonce_source"),  # the shop's shared one, when given
        actions=options.get("actions"),
    )
    client.balance()


# One entry per provider; a new provider adds its cheapest authenticated call.
CHECKS: dict[str, CredentialCheck] = {
    coinpay24.PROVIDER: CredentialCheck(
        name="CoinPay24",
        live_base_url=coinpay24.LIVE_BASE_URL,
        call=_coinpay24,
        auth_field="api_key",
        credentials="API key",
        secret_fields=("api_key",),
        hint="Copy the API key again from your CoinPay24 account; "
        "sandbox keys only work with the sandbox URL.",
    ),
    coinpay_th.PROVIDER: CredentialCheck(
        name="CoinPay.in.th",
        live_base_url=coinpay_th.LIVE_BASE_URL,
        call=_coinpay_th,
        auth_field="api_key",
        # the signature mixes both, so the provider cannot say which one is wrong
        credentials="API key or secret",
        secret_fields=("api_key", "api_secret"),
        refused_codes=frozenset({"rejected"}),  # balance takes no input: only auth fails
        hint="Generate a key pair in API Access and paste both the key and the secret "
        "(the secret is shown only once).",
    ),
}


def check_credentials(
    provider: str,
    values: Mapping[str, Any],
    *,
    base_url: Optional[str] = None,
    timeout: tuple[float, float] = CHECK_TIMEOUT,
    **options: Any,
) -> list[Finding]:
    """One authenticated call with ``values`` (the configuration's fields).
    Never raises: every outcome is a finding."""
    check = CHECKS.get(provider)
    if check is None:
        return [Finding(Level.WARNING, "provider", f"No credential check for {provider!r}.")]
    clean = {k: str(v or "").strip() for k, v in values.items()}
    missing = [name for name in check.secret_fields if not clean.get(name)]
    if missing:
        return [
            Finding(Level.ERROR, name, "The parameter is required.", check.hint) for name in missing
        ]
    base_url = (base_url or clean.get("api_base_url") or check.live_base_url).strip()
    host = _where(base_url)
    try:
        check.call(clean, base_url, timeout, options)
    except ProviderError as exc:
        secrets = [clean[name] for name in check.secret_fields]
        return [_finding(check, exc, host, redact(exc.message, secrets))]
    except ValueError as exc:  # the client refused the URL or a value before sending
        return [Finding(Level.ERROR, "api_base_url", str(exc)[:200])]
    except Exception as exc:  # a bug must not turn a save into a 500
        logger.exception("cryptopay: %s credential check crashed", provider)
        return [
            Finding(
                Level.WARNING,
                check.auth_field,
                f"The credentials could not be checked ({type(exc).__name__}).",
            )
        ]
    return [
        Finding(
            Level.OK, check.auth_field, f"{check.name} accepted the {check.credentials} ({host})."
        )
    ]


def _where(base_url: str) -> str:
    """The URL without scheme or user info (a proxy URL may carry a password)."""
    parts = urlsplit(base_url)
    return (parts.netloc.rpartition("@")[2] + parts.path) or base_url[:60]


def _finding(check: CredentialCheck, exc: ProviderError, host: str, said: str) -> Finding:
    status = f" (HTTP {exc.status_code})" if exc.status_code else ""
    live = f"Leave the API base URL empty for the live API ({check.live_base_url})."
    not_checked = "The credentials could not be checked now: run manage.py cryptopay_check later."
    if exc.code == "tls":
        return Finding(
            Level.ERROR,
            "api_base_url",
            f"TLS failure talking to {host}: {said}.",
            f"{live} A proxy or test server needs a certificate from a public CA.",
        )
    if exc.code == "dns":
        return Finding(
            Level.ERROR,
            "api_base_url",
            f"The host of {host} does not resolve (DNS): {check.name} is unreachable there.",
            f"Check the API base URL for typos. {live}",
        )
    if exc.code in (NOT_SENT, "connection_lost", "timeout"):
        return Finding(
            Level.WARNING,
            "api_base_url",
            f"{check.name} is unreachable at {host}: {said}.",
            not_checked,
        )
    if exc.status_code in (401, 403) or exc.code in check.refused_codes:
        return Finding(
            Level.ERROR,
            check.auth_field,
            f"{check.name} refused the {check.credentials}: “{said}”{status}.",
            check.hint,
        )
    busy = exc.code in ("rate_limited", "nonce", "budget")
    if busy or (exc.status_code or 0) >= 500:  # down or busy, not wrong
        return Finding(
            Level.WARNING,
            "api_base_url",
            f"{check.name} is not answering normally: “{said}”{status}.",
            not_checked,
        )
    if exc.status_code in (404, 405) or exc.code == "bad_response":
        return Finding(
            Level.ERROR,
            "api_base_url",
            f"{host} is not the {check.name} API: it answered “{said}”{status}.",
            live,
        )
    return Finding(
        Level.WARNING,
        check.auth_field,
        f"{check.name} answered “{said}”{status}; the credentials could not be confirmed.",
        not_checked,
    )
