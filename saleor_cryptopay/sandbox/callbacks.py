"""Callback / IPN delivery with the provider's retry schedule.

One dispatcher thread picks due deliveries (oldest first) and hands them to a
small pool of sender threads, so one slow merchant endpoint does not hold up
the others. At most one attempt per invoice/order is in flight at a time, so
first attempts for the same invoice arrive in the order the states changed;
a retried older callback may still arrive after a newer one, as with a real
provider. The dispatcher also runs the expiry sweep, so an invoice expires
(and its callback goes out) even when nobody reads it.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Optional

import requests

from . import invoices, orders
from .state import UTC, Store

log = logging.getLogger(__name__)

# (attempts, seconds between them) from the CoinPay24 docs: 40 sends in all.
SCHEDULE: tuple[tuple[int, int], ...] = (
    (5, 60), (5, 300), (5, 600), (5, 1200), (5, 1800), (5, 3600), (5, 5 * 3600), (5, 86400),
)  # fmt: skip
MAX_ATTEMPTS = sum(n for n, _ in SCHEDULE)
CANCEL_STATUSES = frozenset({301, 302, 401})
SWEEP_INTERVAL = 0.1  # seconds between expiry sweeps (real time)


def retry_delay(attempts_made: int) -> Optional[float]:
    """Seconds to wait after ``attempts_made`` failed sends; None = give up."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    seen = 0
    for count, seconds in SCHEDULE:
        seen += count
        if attempts_made <= seen:
            return float(seconds)
    return None


class Dispatcher:
    def __init__(self, store: Store, workers: int = 8) -> None:
        self.store = store
        self._workers = workers
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._pool: Optional[ThreadPoolExecutor] = None
        self._in_flight: set[tuple[str, int]] = set()  # (provider, ref_id)
        self._local = threading.local()

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="sandbox-callback")
        self._thread = threading.Thread(target=self._run, name="sandbox-dispatcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self.store.lock:
            self.store.cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # lets in-flight sends finish (<= timeout)
            self._pool = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- loop -------------------------------------------------------------
    def _run(self) -> None:
        next_sweep = 0.0
        while not self._stopping.is_set():
            now = time.time()
            if now >= next_sweep:
                try:
                    invoices.expire_due(self.store)
                    orders.expire_due(self.store)
                except Exception:  # keep the loop alive whatever happens
                    log.exception("expiry sweep failed")
                next_sweep = now + SWEEP_INTERVAL
            with self.store.lock:
                wait = next_sweep - time.time()
                for d in sorted(self.store.deliveries.values(), key=lambda d: d.id):
                    if d.state != "pending" or (d.provider, d.ref_id) in self._in_flight:
                        continue
                    if self.store.config.hold_callbacks:
                        break  # held: woken again when released
                    if d.next_at <= now:
                        self._in_flight.add((d.provider, d.ref_id))
                        assert self._pool is not None  # noqa: S101
                        self._pool.submit(self._attempt, d.id)
                    else:
                        wait = min(wait, d.next_at - now)
                if not self._stopping.is_set():
                    self.store.cond.wait(max(0.0, min(wait, SWEEP_INTERVAL)))

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # never route merchant callbacks via a proxy
            self._local.session = session
        return session

    def _attempt(self, delivery_id: int) -> None:
        with self.store.lock:
            d = self.store.deliveries.get(delivery_id)
            if d is None:  # reset() while queued
                return
            key = (d.provider, d.ref_id)
            url, body = d.url, [(k, v) for k, v in d.fields]
        status: Optional[int] = None
        text, error = "", None
        try:
            resp = self._session().post(
                url,
                data=body,
                timeout=self.store.config.callback_timeout,
                allow_redirects=False,  # a redirect cancels the retries, as documented
                headers={"User-Agent": f"{d.provider}-sandbox-callback/1.0"},
            )
            status, text = resp.status_code, resp.text[:500]
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except Exception as exc:  # e.g. an invalid URL; never kill the pool thread
            error = f"{type(exc).__name__}: {exc}"[:500]
        with self.store.mutate():
            self._in_flight.discard(key)
            d = self.store.deliveries.get(delivery_id)
            if d is None:
                return
            d.attempts.append(
                {
                    "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "http_status": status,
                    "response_body": text,
                    "error": error,
                }
            )
            if status == 200:
                d.state = "delivered"
            elif status in CANCEL_STATUSES:
                d.state = "cancelled"
            else:
                delay = retry_delay(len(d.attempts))
                if delay is None:
                    d.state = "exhausted"
                else:
                    d.next_at = time.time() + delay * self.store.config.time_scale
            log.info(
                "%s callback %d to %s: %s (%s)",
                d.provider,
                d.id,
                d.url,
                status or error,
                d.state,
            )

    def retry_now(self, delivery_id: int) -> None:
        """Force an attempt now, whatever the state (final states reopen)."""
        with self.store.mutate():
            d = self.store.deliveries[delivery_id]
            d.state = "pending"
            d.next_at = 0.0
