"""Will the provider's callbacks ever arrive? The callback URL seen as the provider sees it.

Two separate steps, so each can be tested on its own:
``classify_callback_url`` looks at the URL and the addresses its host
resolves to (the provider never calls localhost, private networks or TOR);
``probe_callback_url`` POSTs a signed no-op probe to it the way the provider
posts a callback (no redirects followed, certificates checked against the
public CA bundle, no local proxy) and reads the answer: a redirect or a 401
makes CoinPay24 cancel a callback for good.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional, Union
from urllib.parse import urljoin, urlsplit

import requests

from ..providers.http import tls_reason
from .findings import Finding, Level
from .probe import default_key, is_our_answer, make_probe

FIELD = "callback_url"
PROBE_TIMEOUT = (3.0, 5.0)  # (connect, read)
RESOLVE_TIMEOUT = 3.0
USER_AGENT = "saleor-cryptopay-check/1 (callback probe)"

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Resolver = Callable[[str], list[IPAddress]]


@dataclass(frozen=True)
class Audience:
    """Who reads the findings: the words differ per edition (the plugin sits
    in Saleor behind ``PUBLIC_URL``, the App is its own service behind
    ``APP_URL``) and per provider (only CoinPay24 is documented to cancel
    a callback for good on a redirect or a 401)."""

    setting: str = "PUBLIC_URL"
    server: str = "Saleor's API"
    receiver: str = "this plugin"
    callback_path: str = "/plugins/"
    callback_pattern: str = "/plugins/channel/…/callback"
    provider: str = "CoinPay24"
    recheck: str = "python manage.py cryptopay_check"

    @property
    def public_hint(self) -> str:
        return (
            f"Set {self.setting} to the public https address of {self.server} (behind a "
            "reverse proxy or, for a local test, a tunnel); for local testing use the "
            "sandbox, which calls any address."
        )

    @property
    def every_callback_lost(self) -> str:
        if self.provider == "CoinPay24":
            return "CoinPay24 cancels every callback"
        return f"{self.provider} does not follow the redirect: every callback is lost"

    def lost(self, what: str) -> str:
        """What a redirect or a 401 does to a callback, as far as we know."""
        if self.provider == "CoinPay24":
            return f"CoinPay24 cancels a callback for good on {what}"
        return f"{self.provider} does not follow {what}: the callback is lost"


PLUGIN = Audience()
PUBLIC_HINT = PLUGIN.public_hint


def resolve_host(host: str, timeout: float = RESOLVE_TIMEOUT) -> list[IPAddress]:
    """Every address ``host`` resolves to; raises OSError (TimeoutError when
    DNS hangs: getaddrinfo has no timeout of its own, so it runs in a thread)."""
    result: dict[str, object] = {}

    def work() -> None:
        try:
            result["infos"] = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=work, name="cryptopay-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"no DNS answer within {timeout:.0f} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    addresses: list[IPAddress] = []
    for *_, sockaddr in result["infos"]:  # type: ignore[attr-defined]
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    return addresses


def address_problem(ip: IPAddress) -> Optional[str]:
    """Why the provider would not call this address, or None when it is public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private-network address"
    if not ip.is_global:
        return "an address that is not publicly routable (e.g. carrier-grade NAT)"
    return None


def classify_callback_url(
    url: str, *, resolve: Resolver = resolve_host, audience: Audience = PLUGIN
) -> list[Finding]:
    """What the URL and its addresses alone say (no request to it)."""
    return _classify(url, resolve, audience)[0]


def _classify(url: str, resolve: Resolver, audience: Audience) -> tuple[list[Finding], bool]:
    """The findings, and whether the URL can be requested at all."""
    hint = audience.public_hint
    parts = urlsplit(url or "")
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("http", "https") or not host:
        return [Finding(Level.ERROR, FIELD, f"{url!r} is not an http(s) URL.", hint)], False
    if host.endswith(".onion"):
        return [
            Finding(
                Level.ERROR,
                FIELD,
                f"{host} is a TOR address: {audience.provider} never sends callbacks to TOR.",
                hint,
            )
        ], False
    findings = []
    if parts.scheme == "http":
        findings.append(
            Finding(
                Level.WARNING,
                FIELD,
                f"{url} is plain http: callbacks travel unencrypted, and if this server "
                f"redirects http to https, {audience.every_callback_lost}.",
                f"Serve {audience.server} over https and set {audience.setting} to the https "
                "address.",
            )
        )
    try:
        addresses = resolve(host)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return [
            *findings,
            Finding(
                Level.ERROR,
                FIELD,
                f"{host} does not resolve ({reason}): the provider cannot find it.",
                hint,
            ),
        ], False
    for ip in addresses:
        problem = address_problem(ip)
        if problem:
            findings.append(
                Finding(
                    Level.ERROR,
                    FIELD,
                    f"{_named(host, ip)} {problem}: the provider never sends "
                    "callbacks to localhost or private networks.",
                    hint,
                )
            )
            break
    return findings, True


def _named(host: str, ip: IPAddress) -> str:
    return f"{host} is" if host.strip("[]") == str(ip) else f"{host} resolves to {ip},"


def probe_callback_url(
    url: str,
    *,
    key: Optional[str] = None,
    verify: Union[bool, str] = True,
    timeout: tuple[float, float] = PROBE_TIMEOUT,
    pending_activation: bool = False,
    audience: Audience = PLUGIN,
) -> list[Finding]:
    """POST the signed no-op probe and judge the answer as the provider would.

    ``verify`` is the CA bundle (True: requests' default, the public CAs);
    ``pending_activation`` says the gateway is being activated by the save
    that runs this check, so Saleor cannot route to it yet and a 404 is expected.
    """
    key = key or default_key()
    fields, nonce = make_probe(key)
    session = requests.Session()
    session.trust_env = False  # the provider uses none of this host's proxies or CA files
    try:
        response = session.post(
            url,
            data=fields,
            timeout=timeout,
            allow_redirects=False,
            verify=verify,
            headers={"User-Agent": USER_AGENT},
        )
    except requests.exceptions.SSLError as exc:
        return [
            Finding(
                Level.ERROR,
                FIELD,
                f"The provider would refuse the TLS certificate of {url}: {tls_reason(exc)}.",
                "Install a certificate from a public CA (e.g. Let's Encrypt) for this host "
                "name, with its full chain.",
            )
        ]
    except requests.RequestException as exc:
        what = "timed out" if isinstance(exc, requests.Timeout) else "could not connect"
        return [
            Finding(
                Level.WARNING,
                FIELD,
                f"{url} could not be reached from this server ({what}); if the provider "
                "cannot reach it either, callbacks never arrive.",
                f"Check the firewall and that {audience.setting} is the public address of "
                f"{audience.server}; "
                "a server that cannot reach its own public address (no hairpin NAT, one "
                "worker busy with this request) gives this warning too.",
            )
        ]
    finally:
        session.close()
    return [_judge(url, response, nonce, key, pending_activation, audience)]


def _judge(
    url: str,
    response: requests.Response,
    nonce: str,
    key: str,
    pending_activation: bool,
    audience: Audience = PLUGIN,
) -> Finding:
    status = response.status_code
    if 300 <= status < 400:
        target = urljoin(url, response.headers.get("Location", ""))
        upgrade = urlsplit(url).scheme == "http" and urlsplit(target).scheme == "https"
        return Finding(
            Level.ERROR,
            FIELD,
            f"{url} answers HTTP {status}, a redirect to {target}: {audience.lost('a redirect')}.",
            f"Set {audience.setting} to the https address so no redirect is needed."
            if upgrade
            else f"Set {audience.setting} so the callback URL is the final address, or exempt "
            f"{audience.callback_path} from the redirect.",
        )
    if status in (401, 403):
        return Finding(
            Level.ERROR,
            FIELD,
            f"{url} answers HTTP {status} (password protection or an access rule): "
            f"{audience.lost('a 401')}.",
            f"Exempt {audience.callback_pattern} from HTTP authentication and IP allow "
            f"lists; callbacks are signed and verified by {audience.receiver}.",
        )
    if status == 404 and pending_activation:
        return Finding(
            Level.WARNING,
            FIELD,
            f"{url} reached a server that answered 404, as Saleor does for a gateway that "
            "is not active yet; the callback URL could not be confirmed.",
            f"After saving, run: {audience.recheck}",
        )
    if status >= 500:
        return Finding(
            Level.WARNING,
            FIELD,
            f"{url} answers HTTP {status}: the provider retries for a while, then gives up.",
            f"Check the server's error log; {audience.receiver} answers 503 only while its "
            "database or the provider is unavailable.",
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if status == 200 and is_our_answer(answer, nonce, key):
        return Finding(Level.OK, FIELD, f"{url} reaches {audience.receiver}.")
    snippet = " ".join(response.text.split())[:80]
    kind = response.headers.get("Content-Type", "no content type")
    return Finding(
        Level.ERROR,
        FIELD,
        f"{url} answers, but not as {audience.receiver}: HTTP {status}, {kind}, “{snippet}”.",
        f"{audience.setting} must point at {audience.server} (not the storefront, the "
        "Dashboard or another deployment), and the gateway must be active for this channel.",
    )


def check_callback_url(
    url: str,
    *,
    resolve: Resolver = resolve_host,
    audience: Audience = PLUGIN,
    **probe_options: Any,
) -> list[Finding]:
    """Both steps; the probe is skipped only when the URL cannot be requested at all."""
    findings, reachable = _classify(url, resolve, audience)
    if not reachable:
        return findings
    return findings + probe_callback_url(url, audience=audience, **probe_options)
