"""HTTP plumbing shared by the provider clients.

Every call has a total deadline (connect, request and the whole answer), a
cap on the answer's size, no redirects followed, and TLS verification always
on. Whatever goes wrong comes out as one ``ProviderError`` that says whether
a retry can help and whether the request may have reached the provider (its
code is in ``NEVER_SENT`` only when no byte of it left this machine).
Request bodies carry credentials, so nothing here logs or quotes them: logs
get method, path, status and time only.
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
from .calls import Call, TrackingAdapter
from .errors import ProviderError
from .quota import CHECKOUT, CallBudget

logger = logging.getLogger("saleor_cryptopay.providers")

DEFAULT_TIMEOUT = (5.0, 20.0)  # (connect, each read) seconds
DEFAULT_DEADLINE = 30.0  # seconds for the whole call, whatever the reads do
MAX_RESPONSE_BYTES = 1024 * 1024  # no provider answer is anywhere near this
USER_AGENT = "saleor-cryptopay/0.1 (+python-requests)"
# ProviderError.code when the request provably never left this machine (no
# byte of it was written): the provider cannot have acted on it
NOT_SENT = "not_sent"
# error codes of a call that certainly never reached the provider: refused
# before any byte was written, or here (a spent budget, the shared quota)
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


def _read_capped(response: requests.Response, cap: int) -> None:
    """Read the whole body (within the call's deadline), refusing more than
    ``cap`` bytes; ``response.content`` holds it afterwards."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _TooLarge(cap)
    chunks, size = [], 0
    for chunk in response.iter_content(16384):
        size += len(chunk)
        if size > cap:
            raise _TooLarge(cap)
        chunks.append(chunk)
    response._content = b"".join(chunks)


class _TooLarge(Exception):
    def __init__(self, cap: int) -> None:
        super().__init__(f"answer larger than {cap} bytes")


def _is_tls(exc: BaseException) -> bool:
    return any(
        isinstance(item, (ssl.SSLError, requests.exceptions.SSLError)) for item in _chain(exc)
    )


def _cert_refused(exc: BaseException) -> bool:
    """The certificate was refused: that happens in the handshake, before any
    request byte is written."""
    return any(
        isinstance(item, ssl.SSLCertVerificationError) or type(item).__name__ == "CertificateError"
        for item in _chain(exc)
    )


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
        deadline: float = DEFAULT_DEADLINE,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        scheme = urlsplit(base_url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"{provider}: base URL must be http(s), got {base_url!r}")
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        # redirects are answers to report, never to follow or even parse
        # (requests reads Location even with allow_redirects=False)
        self.session.get_redirect_target = lambda response: None  # type: ignore[method-assign]
        for prefix in ("http://", "https://"):
            # our connections: they tell whether a request byte left, and the
            # deadline can cut them
            self.session.mount(prefix, TrackingAdapter())
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
        any_status: bool = False,
    ) -> HttpResult:
        """POST and parse JSON. Non-2xx answers raise, with the provider's
        message extracted by ``error_message(body)`` when the body is JSON;
        with ``any_status`` a 4xx/5xx whose body is JSON is returned instead,
        for the caller to read (a 3xx still raises: redirects are never
        followed, they would re-send the form, key included, elsewhere)."""
        url = self.url(path)
        self.spend(path)
        started = time.monotonic()
        connect, read = self.timeout
        call = Call(self.deadline)
        try:
            with call:
                # verify=True explicitly: nothing (env, session, caller) may turn it off
                response = self.session.post(
                    url,
                    json=json_body,
                    data=data,
                    files=files,
                    timeout=(min(connect, self.deadline), min(read, self.deadline)),
                    verify=True,
                    allow_redirects=False,
                    stream=True,
                )
                try:
                    _read_capped(response, self.max_bytes)
                finally:
                    response.close()
        except Exception as exc:  # anything, even a bug: the request may have left
            error = self._failure(exc, call, url)
            self._log(path, error.code, started)
            raise error from None
        if call.expired:  # cut at the deadline even if something came back
            error = self._failure(TimeoutError(), call, url)
            self._log(path, error.code, started)
            raise error
        self._log(path, response.status_code, started)
        return self._parse(response, error_message, any_status)

    def _failure(self, exc: BaseException, call: Call, url: str) -> ProviderError:
        """The call failed: say whether it may have reached the provider."""
        if isinstance(exc, ProviderError):
            return exc
        if call.expired:
            return self._error(
                f"no complete answer within {self.deadline:g} s: the answer was lost"
                if call.maybe_sent
                else f"could not connect within {self.deadline:g} s",
                "deadline" if call.maybe_sent else NOT_SENT,
            )
        if isinstance(exc, _TooLarge):
            return ProviderError(str(exc), provider=self.provider, code="too_large")
        if not call.maybe_sent or not call.tracked:
            # nothing was written (or, where our connections did not take
            # part, the failure itself proves it: no address, no connection,
            # a certificate refused during the handshake)
            if unresolvable(exc):
                return self._error(f"cannot resolve {urlsplit(url).hostname}", "dns")
            if _cert_refused(exc) or (not call.maybe_sent and _is_tls(exc)):
                return ProviderError(
                    f"TLS failure: {tls_reason(exc)}", provider=self.provider, code="tls"
                )
            if not call.maybe_sent or _never_connected(exc):
                return self._error("could not connect to the provider", NOT_SENT)
        # the request may have arrived: the provider may have acted on it
        if isinstance(exc, requests.Timeout):
            return self._error("timed out waiting for the answer (the request was sent)", "timeout")
        if _is_tls(exc):
            return self._error(
                f"TLS failure after the request was sent, the answer was lost: {tls_reason(exc)}",
                "tls_after_send",
            )
        if isinstance(exc, (requests.ConnectionError, OSError)):
            return self._error(
                "the connection broke after the request was sent: the answer was lost",
                "connection_lost",
            )
        return self._error(
            f"request failed after it was sent ({type(exc).__name__}): the answer was lost",
            "request_failed",
        )

    def _error(self, message: str, code: str) -> ProviderError:
        return ProviderError(message, provider=self.provider, retryable=True, code=code)

    def _parse(
        self, response: requests.Response, error_message: Any, any_status: bool = False
    ) -> HttpResult:
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        retryable = status >= 500 or status in (408, 425, 429)
        try:
            body = response.json()
        except ValueError:
            body = None
        if 300 <= status < 400:
            raise ProviderError(
                f"HTTP {status} redirect (not followed)",
                provider=self.provider,
                status_code=status,
                code="redirect",
            )
        if status == 429 and self.quota is not None:
            self.quota.block(60.0 if retry_after is None else retry_after)
        if status >= 400 and any_status and isinstance(body, (dict, list)):
            return HttpResult(status, body, dict(response.headers))
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
