"""The providers' published call quotas, enforced per API key (``--rate-limit``).

The sandbox keeps its own copy of the numbers (the client's are in
``providers/quota.py``): a mistake shared by both would otherwise pass.
Windows slide; a refused call does not count. ``time_scale`` shrinks every
window like the callback retry intervals, so a test can run an "hour" in
seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Quota:
    seconds: float
    limit: int
    endpoint: Optional[str] = None  # only calls to this endpoint count


# CoinPay24 docs: private API 200 calls/minute and 1000 calls/hour per key,
# 1000 invoices/hour. CoinPay.in.th publishes none.
PUBLISHED: dict[str, tuple[Quota, ...]] = {
    "coinpay24": (Quota(60, 200), Quota(3600, 1000), Quota(3600, 1000, "invoices/create")),
}


class KeyQuotas:
    def __init__(self, time_scale: float = 1.0) -> None:
        self.time_scale = time_scale
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str, int], deque[float]] = defaultdict(deque)
        self.refused = 0  # 429s answered

    def take(self, provider: str, key: str, endpoint: str) -> Optional[float]:
        """Count the call, or return the Retry-After (seconds) when over."""
        quotas = [
            (i, q)
            for i, q in enumerate(PUBLISHED.get(provider, ()))
            if q.endpoint in (None, endpoint)
        ]
        now = time.monotonic()
        with self._lock:
            wait = 0.0
            for i, quota in quotas:
                span = quota.seconds * self.time_scale
                calls = self._calls[(provider, key, i)]
                while calls and calls[0] <= now - span:
                    calls.popleft()
                if len(calls) >= quota.limit:
                    wait = max(wait, calls[0] + span - now)
            if wait > 0:
                self.refused += 1
                return math.ceil(wait) if self.time_scale >= 1 else round(wait, 3) or 0.001
            for i, _ in quotas:
                self._calls[(provider, key, i)].append(now)
        return None

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self.refused = 0
