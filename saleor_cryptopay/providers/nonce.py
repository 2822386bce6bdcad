"""Strictly increasing nonces for CoinPay.in.th.

The provider rejects any nonce not greater than the last one it accepted for
the key. Every source below hands out ``max(last + 1, now in microseconds)``:
time-based so a restart (or a second host) never goes backwards, counter-based
so two calls in the same microsecond still differ.

Issuing in order is not arriving in order: two workers that take 10 and 11
may reach the provider as 11, 10. So a source also offers ``lease()``: the
nonce stays exclusively held until the call it signs has been answered, which
serialises calls per key (CoinPay.in.th calls are few; correctness wins). The
client still retries a nonce refusal once or twice with a fresh nonce, for
callers whose source cannot lease.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


def now_us() -> int:
    return time.time_ns() // 1000


class NonceSource(Protocol):
    def next(self) -> int: ...

    def lease(self) -> AbstractContextManager[int]:
        """A nonce held exclusively until the ``with`` block ends."""


class MonotonicNonce:
    """Per process, thread-safe. Enough for one process per API key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> int:
        with self.lease() as value:
            return value

    @contextmanager
    def lease(self) -> Iterator[int]:
        with self._lock:
            self._last = max(self._last + 1, now_us())
            yield self._last


class FileNonce:
    """Across threads and processes on one host: the last value lives in a
    file, read and advanced under an exclusive ``flock``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        self._thread_lock = threading.Lock()  # flock is per open file, not per thread

    def next(self) -> int:
        with self.lease() as value:
            return value

    @contextmanager
    def lease(self) -> Iterator[int]:
        with self._thread_lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                raw = os.read(fd, 64).strip()
                last = int(raw) if raw.isdigit() else 0
                value = max(last + 1, now_us())
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, str(value).encode())
                yield value
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
