"""Fault injection and rate limiting for the provider APIs.

Faults model the provider's edge misbehaving (load balancer pages, timeouts,
throttling), so they act before the request is authenticated or processed:
a faulted call consumes no nonce and changes nothing. ``delay`` is the
exception: it waits, then the call is processed normally; and the
``ANSWER_LOST`` modes process the call for real, then lose the answer
(cut short, connection dropped, held past the client's timeout, replaced by
a proxy's page or an undocumented status, or dripped one byte at a time).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Optional

PROVIDERS = ("coinpay24", "coinpay_th", "icoinpay")
MODES = (
    "delay", "status", "html", "empty", "bad_json", "rate_limit", "drop", "hang",
    "redirect", "odd_status", "proxy_page", "drip",
)  # fmt: skip
# Modes that process the call for real and then lose (or garble) the answer.
ANSWER_LOST = ("bad_json", "drop", "hang", "odd_status", "proxy_page", "drip")


@dataclass
class Fault:
    provider: str
    mode: str
    count: int = 1
    seconds: float = 1.0
    status: int = 503
    retry_after: float = 1
    endpoint: Optional[str] = None  # substring of the endpoint name; None = any
    location: str = "http://127.0.0.1:9/elsewhere"  # where ``redirect`` points

    def matches(self, provider: str, names: tuple[str, ...]) -> bool:
        if self.provider != provider or self.count <= 0:
            return False
        return self.endpoint is None or any(self.endpoint in n for n in names)


class FaultInjector:
    def __init__(self, rate_limit_per_minute: Optional[int] = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.rate_limit_per_minute = rate_limit_per_minute
        self._calls: dict[str, deque[float]] = {p: deque() for p in PROVIDERS}

    def add(self, fault: Fault) -> Fault:
        if fault.provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {PROVIDERS}")
        if fault.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if fault.count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, provider: str, names: tuple[str, ...]) -> Optional[Fault]:
        """The first armed fault matching this call, with one use consumed."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(provider, names):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            for calls in self._calls.values():
                calls.clear()

    def throttle(self, provider: str) -> Optional[int]:
        """Sliding one-minute window per provider (all keys together, like the
        provider's per-app quota). Returns Retry-After seconds when over."""
        limit = self.rate_limit_per_minute
        if not limit:
            return None
        now = time.monotonic()
        with self._lock:
            calls = self._calls[provider]
            while calls and calls[0] <= now - 60:
                calls.popleft()
            if len(calls) >= limit:
                return max(1, math.ceil(calls[0] + 60 - now))
            calls.append(now)
        return None
