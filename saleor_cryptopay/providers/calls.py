"""What one provider call did on the wire: whether any request byte left,
and a total deadline that cuts it.

``requests`` has per-read timeouts only: a server dripping one byte every
15 s never trips a 20 s read timeout, and an exception tells nothing about
whether the request was already written. Both matter for money: a payout
may be called "never sent" only when no byte of it left this machine, and
staff may retry one only once it can no longer land. So the transport's
connections report to the call running on their thread (``Call``), and a
watchdog thread (one per process) shuts the socket down when the call's
deadline passes.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any, Optional

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_local = threading.local()


class DeadlinePassed(OSError):
    """Raised by our connections when the call's deadline has passed."""


class Call:
    """One request/answer exchange, bounded by ``seconds`` in total (connect,
    TLS handshake, request, whole answer). Use as a context manager around
    the ``requests`` call and the reading of its body."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.tracked = False  # one of our connections took part
        self.written = False  # a request byte may have been handed to the OS
        self.expired = False  # the deadline cut the call
        self._conn: Any = None
        self._done = False
        self._lock = threading.Lock()

    @property
    def maybe_sent(self) -> bool:
        """False only when it is certain that no request byte left."""
        return self.written or not self.tracked

    def __enter__(self) -> Call:
        _local.call = self
        _WATCHDOG.watch(self, time.monotonic() + self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
            self._conn = None
        _local.call = None

    def attach(self, conn: Any) -> None:
        with self._lock:
            if self.expired:
                raise DeadlinePassed("the call's deadline passed")
            self.tracked = True
            self._conn = conn

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = getattr(self._conn, "sock", None)
        if sock is not None:
            # the plain socket's shutdown (an SSLSocket's would drop its TLS
            # state under the reading thread): the blocked read ends
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """Expires calls at their deadline: one thread for all of them (a timer
    thread per call would cost more than the call's own overhead)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Call]] = []
        self._seq = itertools.count()
        self._thread: Optional[threading.Thread] = None

    def watch(self, call: Call, ends_at: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (ends_at, next(self._seq), call))
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(
                    target=self._run, name="cryptopay-call-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is call:
                self._cond.notify()  # earlier than what the thread waits for

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                ends_at, _, call = self._heap[0]
                wait = ends_at - time.monotonic()
                if wait > 0 and not call._done:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            if not call._done:
                call._expire()


_WATCHDOG = _Watchdog()


def current() -> Optional[Call]:
    return getattr(_local, "call", None)


class _Tracked:
    """Mixed into urllib3's connections: report to the thread's ``Call``."""

    def connect(self) -> None:
        call = current()
        if call is not None:
            call.attach(self)
        super().connect()  # type: ignore[misc]
        if call is not None:
            call.attach(self)  # the deadline may have passed during a slow DNS answer

    def send(self, data: Any) -> None:
        call = current()
        if call is not None:
            if getattr(self, "sock", None) is None and getattr(self, "auto_open", 0):
                self.connect()  # what http.client's send would do first
            call.attach(self)
            call.written = True  # before the write: a partial write counts
        super().send(data)  # type: ignore[misc]


class _Connection(_Tracked, HTTPConnection):
    pass


class _TLSConnection(_Tracked, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class TrackingAdapter(HTTPAdapter):
    """``requests`` adapter whose connections report to the running ``Call``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
