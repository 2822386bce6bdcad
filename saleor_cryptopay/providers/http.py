"""HTTP plumbing shared by the provider clients.

Every call has a connect and a read timeout, TLS verification is always on,
and whatever goes wrong comes out as one ``ProviderError`` that says whether a
retry can help. Request bodies carry credentials, so nothing here logs or
quotes them: logs get method, path, status and time only.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from dataclasses import dataclass
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Optional
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from ..money import MoneyError, to_decimal
from .errors import ProviderError
from .quota import CHECKOUT, CallBudget

logger = logging.getLogger("saleor_cryptopay.providers")

DEFAULT_TIMEOUT = (5.0, 20.0)  # (connect, read) seconds
USER_AGENT = "saleor-cryptopay/0.1 (+python-requests)"
# ProviderError.code when the request provably never left this machine (no
# connection was made): the provider cannot have acted on it
NOT_SENT = "not_sent"
# error codes of a call that certainly never reached the provider: refused
# before connecting, or here (a spent budget, the shared quota, a 429 block)
NEVER_SENT = frozenset({NOT_SENT, "dns", "tls", "budget", "quota"})


@dataclass(frozen=True)
class HttpResult:
    status_code: int
    body: Any  # parsed JSON (dict or list)
    headers: dict


def parse_retry_after(value: Optional[str]) -> Optional[float]:
    """Retry-After as seconds, from either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the TCP connection was never made (refused, DNS): unlike a
    connection lost mid-request, which may have reached the provider."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _describe_body(text: str, content_type: str) -> str:
    stripped = text.strip()
    if not stripped:
        return "empty response body"
    if "html" in content_type or stripped[:1] == "<":
        return "HTML page instead of JSON"
    return "malformed JSON response"


class HttpTransport:
    """A ``requests.Session`` with the project's rules baked in."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        session: Optional[requests.Session] = None,
        quota: Optional[CallBudget] = None,
        priority: str = CHECKOUT,
    ) -> None:
        scheme = urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"{provider}: base URL must be http(s), got {base_url!r}")
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.calls = 0  # requests sent by this transport
        self.budget: Optional[int] = None  # refuse to send more than this many
        # the provider's quota, shared with every other process using the key
        self.quota = quota
        self.priority = priority  # checkout, callback or background (quota.PRIORITIES)

    def spend(self, path: str = "") -> None:
        """Count one call; refuse it when this run's budget is spent, or when
        the shared quota has no room left for this transport's priority."""
        if self.budget is not None and self.calls >= self.budget:
            raise ProviderError(
                f"call budget of {self.budget} for this run is spent",
                provider=self.provider,
                retryable=True,
                code="budget",
            )
        if self.quota is not None:
            self.quota.acquire(path, self.priority)
        self.calls += 1

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def post(
        self,
        path: str,
        *,
        json_body: Optional[dict] = None,
        data: Optional[dict] = None,
        files: Optional[dict] = None,
        error_message: Any = None,
    ) -> HttpResult:
        """POST and parse JSON. Non-2xx answers raise, with the provider's
        message extracted by ``error_message(body)`` when the body is JSON."""
        url = self.url(path)
        self.spend(path)
        started = time.monotonic()
        try:
            # verify=True explicitly: nothing (env, session, caller) may turn it off
            response = self.session.post(
                url, json=json_body, data=data, files=files, timeout=self.timeout, verify=True
            )
        except requests.ConnectTimeout:
            self._log(path, "connect timeout", started)
            raise ProviderError(
                "could not connect to the provider",
                provider=self.provider,
                retryable=True,
                code=NOT_SENT,
            ) from None
        except requests.Timeout:
            self._log(path, "timeout", started)
            raise ProviderError(
                "timed out waiting for the provider",
                provider=self.provider,
                retryable=True,
                code="timeout",
            ) from None
        except requests.exceptions.SSLError as exc:
            # the handshake failed: no request was sent
            self._log(path, "TLS failure", started)
            raise ProviderError(
                f"TLS failure: {tls_reason(exc)}", provider=self.provider, code="tls"
            ) from None
        except requests.ConnectionError as exc:
            self._log(path, "connection error", started)
            if unresolvable(exc):
                raise ProviderError(
                    f"cannot resolve {urlsplit(url).hostname}",
                    provider=self.provider,
                    retryable=True,
                    code="dns",
                ) from None
            raise ProviderError(
                "could not connect to the provider",
                provider=self.provider,
                retryable=True,
                # refused before connecting, or lost mid-request (may have arrived)
                code=NOT_SENT if _never_connected(exc) else "connection_lost",
            ) from None
        except requests.RequestException as exc:
            self._log(path, type(exc).__name__, started)
            raise ProviderError(
                f"request failed: {type(exc).__name__}", provider=self.provider, retryable=True
            ) from None
        self._log(path, response.status_code, started)
        return self._parse(response, error_message)

    def _parse(self, response: requests.Response, error_message: Any) -> HttpResult:
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        retryable = status >= 500 or status in (408, 425, 429)
        try:
            body = response.json()
        except ValueError:
            body = None
        if status >= 400:
            message = None
            if isinstance(body, dict) and error_message is not None:
                message = error_message(body)
            if not message:
                message = (
                    f"HTTP {status} ({_describe_body(response.text, content_type)})"
                    if body is None
                    else f"HTTP {status}"
                )
            if status == 429 and retry_after is None:
                retry_after = 60.0
            if status == 429 and self.quota is not None:
                self.quota.block(retry_after)
            raise ProviderError(
                message,
                provider=self.provider,
                status_code=status,
                retryable=retryable,
                retry_after=retry_after,
                code="rate_limited" if status == 429 else None,
            )
        if not isinstance(body, (dict, list)):
            # a proxy or a broken deploy; the call may work next time
            raise ProviderError(
                _describe_body(response.text, content_type),
                provider=self.provider,
                status_code=status,
                retryable=True,
                code="bad_response",
            )
        return HttpResult(status, body, dict(response.headers))

    def _log(self, path: str, outcome: Any, started: float) -> None:
        logger.info(
            "%s POST %s -> %s in %.0f ms",
            self.provider,
            path,
            outcome,
            (time.monotonic() - started) * 1000,
        )


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (urllib3's ``reason``) and their contexts."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [getattr(item, "reason", None), item.__cause__, item.__context__]
        todo += [a for a in item.args if isinstance(a, BaseException)]
    return seen


def tls_reason(exc: BaseException) -> str:
    """Why the certificate was refused, in OpenSSL's words (no request data)."""
    for item in _chain(exc):
        if isinstance(item, ssl.SSLCertVerificationError):
            return f"certificate refused ({item.verify_message or item.reason})"
        if type(item).__name__ == "CertificateError":
            # urllib3 1.x (Saleor 3.20 pins it) matches host names itself
            return f"certificate refused (hostname mismatch: {item})"
    for item in _chain(exc):
        if isinstance(item, ssl.SSLError):
            return f"TLS handshake failed ({item.reason or type(item).__name__})"
    return "TLS handshake failed"


def unresolvable(exc: BaseException) -> bool:
    """True when the host name did not resolve (DNS), not a refused connection."""
    return any(isinstance(item, socket.gaierror) for item in _chain(exc))


def decimal_or_none(value: Any) -> Optional[Decimal]:
    """A provider's number as Decimal; None when absent or not a number."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return to_decimal(value)
    except MoneyError:
        return None


def int_or_none(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def text_or_none(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def first_message(body: dict, keys: tuple[str, ...]) -> Optional[str]:
    """The first non-empty message among ``keys``; lists are joined."""
    for key in keys:
        value = body.get(key)
        if isinstance(value, (list, tuple)):
            value = "; ".join(str(v) for v in value if v not in (None, ""))
        elif isinstance(value, dict):
            value = "; ".join(f"{k}: {v}" for k, v in value.items())
        text = text_or_none(value)
        if text:
            return text[:500]
    return None
