"""Provider call quotas as data, and the budget interface a transport uses.

The limits are the providers' published ones; which caller may use how much of
them is a priority share. Nothing here stores anything: a shared budget (the
core's ``saleor_cryptopay.quota.DatabaseBudget``) counts the calls and is
handed to ``HttpTransport`` as a ``CallBudget``. No Django here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Optional, Protocol

from .errors import ProviderError

CHECKOUT = "checkout"  # a shopper is waiting: invoice create, confirm re-read
CALLBACK = "callback"  # a provider callback's re-read; the provider retries on 503
BACKGROUND = "background"  # reconciliation, payouts: whatever the others leave
PRIORITIES = (CHECKOUT, CALLBACK, BACKGROUND)

# Share of every window each priority may fill. Checkout may use it all;
# callbacks leave the last 10 % to checkouts, background work the last 20 %.
DEFAULT_SHARES = {CHECKOUT: 1.0, CALLBACK: 0.9, BACKGROUND: 0.8}


@dataclass(frozen=True)
class Window:
    """At most ``limit`` calls in any ``seconds``-long span; ``path`` set: only
    calls to that API path count (e.g. invoice creations)."""

    name: str
    seconds: float
    limit: int
    path: Optional[str] = None

    def counts(self, path: str) -> bool:
        return self.path is None or self.path == path.strip("/")


# Calls each call to a path books ahead for what it will certainly need: an
# invoice is re-read once when its callback comes. The booked call is counted
# with the creation and spent by that callback's re-read (priority CALLBACK):
# so creations can never crowd out the re-reads that turn them into sales.
FOLLOW_UPS: dict[str, dict[str, int]] = {"coinpay24": {"invoices/create": 1}}

# Per API key. CoinPay.in.th publishes no quota: no windows, nothing counted.
LIMITS: dict[str, tuple[Window, ...]] = {
    "coinpay24": (
        Window("calls per minute", 60, 200),
        Window("calls per hour", 3600, 1000),
        Window("invoices per hour", 3600, 1000, path="invoices/create"),
    ),
    "coinpay_th": (),
}


def scaled(windows: Sequence[Window], time_scale: float) -> tuple[Window, ...]:
    """The same limits over shorter spans (a sandbox run with ``time_scale``)."""
    return tuple(replace(w, seconds=w.seconds * time_scale) for w in windows)


def allowance(window: Window, priority: str, shares: Optional[dict] = None) -> int:
    """How many calls of ``window`` a caller of ``priority`` may have in flight."""
    share = {**DEFAULT_SHARES, **(shares or {})}.get(priority, DEFAULT_SHARES[BACKGROUND])
    return max(1, math.floor(window.limit * share)) if share > 0 else 0


def wait_for(
    window: Window,
    calls: Sequence[tuple[float, int]],
    allowed: int,
    now: float,
    need: int = 1,
) -> float:
    """Seconds until ``need`` more calls fit ``allowed`` in ``window``, given the
    ascending ``(time, weight)`` of the calls it already counts (0: fit now)."""
    if need > allowed:
        return window.seconds
    recent = [(t, w) for t, w in calls if t > now - window.seconds]
    over = sum(w for _, w in recent) + need - allowed
    for at, weight in recent:
        if over <= 0:
            break
        over -= weight
        if over <= 0:
            return max(0.0, at + window.seconds - now)
    return 0.0


def refused(
    provider: str, message: str, retry_after: Optional[float], code: str = "quota"
) -> ProviderError:
    """The error a refused call raises: retryable, like the provider's own 429."""
    return ProviderError(
        message,
        provider=provider,
        retryable=True,
        retry_after=None if retry_after is None else round(retry_after, 3),
        code=code,
    )


class CallBudget(Protocol):
    """A budget shared by every process using one API key."""

    def acquire(self, path: str, priority: str) -> None:
        """Count one call to ``path``, or raise a retryable ``ProviderError``
        (code ``quota``, or ``rate_limited`` while the provider said to wait)."""

    def block(self, seconds: float) -> None:
        """The provider answered 429: nobody calls for ``seconds``."""
