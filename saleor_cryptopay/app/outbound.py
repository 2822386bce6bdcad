"""Every HTTP call the App makes to a Saleor (register, JWKS, GraphQL,
outbox) goes through ``call``: a total deadline (a server dripping one byte
at a time cannot hold a thread), a response size cap, no redirects, TLS
verified, no proxy from the environment, and no loopback / private /
link-local target unless the operator allows a local Saleor
(``ALLOW_LOCAL_SALEOR``).

The target is checked twice: every address the host resolves to, before
connecting (so a refused target is never contacted and the answer says
nothing about its ports), and the address actually connected to (a name that
resolves differently the second time is still refused).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..setup_checks.callback_url import address_problem, resolve_host

DEADLINE = 15.0  # seconds for a whole call: resolve, connect, send, read
MAX_BYTES = 256 * 1024  # a GraphQL answer or a JWKS is a few kilobytes
CONNECT_TIMEOUT = 5.0
USER_AGENT = "saleor-cryptopay-app/1"


class Unreachable(Exception):
    """No usable answer: the message says so in words that do not tell a
    closed port from an open one (it may reach whoever sent a URL)."""


class TargetRefused(Unreachable):
    """The URL names a loopback, private or link-local address and local
    Saleors are not allowed: nothing was sent."""


@dataclass(frozen=True)
class Reply:
    status: int
    content: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.content)
        except RecursionError:  # a hostile answer nested deeper than the parser goes
            raise ValueError("answer nested too deeply") from None


def allow_local() -> bool:
    return bool(getattr(settings, "ALLOW_LOCAL_SALEOR", False))


def deadline_seconds() -> float:
    return float(getattr(settings, "SALEOR_CALL_DEADLINE", DEADLINE))


def call(
    method: str,
    url: str,
    *,
    json_body: Optional[dict] = None,
    headers: Optional[dict[str, str]] = None,
    max_bytes: int = MAX_BYTES,
    deadline: Optional[float] = None,
) -> Reply:
    """One request, its whole answer read within ``deadline`` seconds and
    ``max_bytes``; ``Unreachable`` otherwise (``TargetRefused`` if never sent)."""
    seconds = deadline_seconds() if deadline is None else deadline
    guard = _Guard(time.monotonic() + seconds, allow_local())
    host = urlsplit(url).hostname or ""
    if not guard.allow_local:
        _check_resolved(host, guard.remaining())
    session = requests.Session()
    # no proxy or netrc from the environment: the address checked is the one
    # connected to; a private CA bundle is still honoured
    session.trust_env = False
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or True
    session.mount("http://", _GuardedAdapter())
    session.mount("https://", _GuardedAdapter())
    timer = threading.Timer(max(guard.remaining(), 0.0), guard.expire)
    timer.daemon = True
    _current.guard = guard
    timer.start()
    try:
        return _read(session, method, url, json_body, headers, guard, max_bytes)
    except TargetRefused:
        raise
    except (requests.RequestException, OSError):
        if guard.refused:
            raise TargetRefused("the Saleor address is not a public one") from None
        if guard.expired:
            raise Unreachable(f"no complete answer within {seconds:g} s") from None
        raise Unreachable("Saleor could not be reached") from None
    finally:
        timer.cancel()
        _current.guard = None
        session.close()
        guard.close()


def _read(session, method, url, json_body, headers, guard, max_bytes) -> Reply:
    connect = min(CONNECT_TIMEOUT, max(guard.remaining(), 0.01))
    response = session.request(
        method,
        url,
        json=json_body,
        # uncompressed only: a small compressed body can inflate past any cap
        headers={"User-Agent": USER_AGENT, **(headers or {}), "Accept-Encoding": "identity"},
        timeout=(connect, max(guard.remaining(), 0.01)),
        allow_redirects=False,
        stream=True,
    )
    with response:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise Unreachable(f"the answer is larger than {max_bytes} bytes")
        if response.headers.get("Content-Encoding", "identity").lower() != "identity":
            raise Unreachable("the answer is compressed although identity was asked for")
        content = bytearray()
        for chunk in response.raw.stream(16384, decode_content=False):
            content += chunk
            if len(content) > max_bytes:
                raise Unreachable(f"the answer is larger than {max_bytes} bytes")
            if guard.expired:
                break
    if guard.expired:  # the watchdog cut the socket: what was read may be partial
        raise requests.Timeout()
    return Reply(response.status_code, bytes(content))


def _check_resolved(host: str, timeout: float) -> None:
    literal = _ip_literal(host)
    try:
        addresses = [literal] if literal else resolve_host(host, max(min(timeout, 5.0), 0.1))
    except OSError:
        raise Unreachable("Saleor could not be reached") from None
    if not addresses or any(address_problem(ip) for ip in addresses):
        raise TargetRefused("the Saleor address is not a public one")


def _ip_literal(host: str):
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class _Guard:
    """One call's deadline and target rule, seen by the connections it opens."""

    def __init__(self, ends_at: float, allow_local: bool) -> None:
        self.ends_at = ends_at
        self.allow_local = allow_local
        self.expired = False
        self.refused = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()

    def connected(self, sock: socket.socket) -> None:
        if not self.allow_local:
            peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0])
            if address_problem(peer):
                self.refused = True
                sock.close()
                raise OSError("refused target")
        # a duplicate descriptor of the same connection: TLS wrapping detaches
        # ``sock``, and shutting the duplicate down still ends a read on it
        with self._lock:
            self._sockets.append(sock.dup())
            if self.expired:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets = []

    def expire(self) -> None:
        """Deadline reached: unblock any read in progress (the caller sees EOF
        or an error, and ``expired``)."""
        with self._lock:  # never on a descriptor ``close`` has given back
            self.expired = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()  # requests runs a call in the caller's thread


def _connected(sock: socket.socket) -> socket.socket:
    guard = getattr(_current, "guard", None)
    if guard is None:  # only ``call`` mounts these connections
        sock.close()
        raise OSError("outbound call without a guard")
    guard.connected(sock)
    return sock


class _Connection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _connected(super()._new_conn())


class _TLSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _connected(super()._new_conn())


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
