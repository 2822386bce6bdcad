"""The sandbox's whole state: invoices, orders, paylinks, callback deliveries,
nonces and request counters, behind one re-entrant lock.

Money is ``Decimal`` in here; the wire modules format it. Every change goes
through ``Store.mutate()`` which saves the state file (if any) and wakes the
callback dispatcher.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Optional, TypeVar

log = logging.getLogger(__name__)

FINAL_DELIVERY_STATES = frozenset({"delivered", "cancelled", "exhausted"})

T = TypeVar("T", bound="_Record")


class _Record:
    """JSON round trip for the dataclasses below (Decimal and datetime as strings)."""

    DECIMALS: ClassVar[frozenset[str]] = frozenset()
    DATES: ClassVar[frozenset[str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            value = data[f.name]
            if value is not None and f.name in cls.DECIMALS:
                value = Decimal(value)
            elif value is not None and f.name in cls.DATES:
                value = datetime.fromisoformat(value)
            kwargs[f.name] = value
        return cls(**kwargs)


@dataclass
class Invoice(_Record):
    """A CoinPay24 invoice."""

    DECIMALS: ClassVar[frozenset[str]] = frozenset({"price_amount", "pay_amount", "received"})
    DATES: ClassVar[frozenset[str]] = frozenset({"created_at", "expire_at", "paid_at"})

    id: int
    token: str
    api_key: str
    order_id: str
    price_amount: Decimal
    price_currency: str
    created_at: datetime
    expire_at: datetime
    status: str = "new"
    title: str = ""
    description: str = ""
    callback_url: str = ""
    cancel_url: str = ""
    success_url: str = ""
    pay_currency: Optional[str] = None
    pay_amount: Optional[Decimal] = None
    payment_address: Optional[str] = None
    purchaser_fullname: str = ""
    purchaser_email: str = ""
    received: Decimal = Decimal(0)  # coin (pay_currency) received so far
    paid_at: Optional[datetime] = None


@dataclass
class Order(_Record):
    """A CoinPay.in.th order. ``status`` is the numeric order_status."""

    DECIMALS: ClassVar[frozenset[str]] = frozenset({"amount", "btc_amount", "btc_received"})
    DATES: ClassVar[frozenset[str]] = frozenset({"created_at", "expire_at"})

    id: int
    order_hash: str
    api_key: str
    amount: Decimal
    currency: str
    btc_amount: Decimal
    address: str
    created_at: datetime
    expire_at: datetime  # end of the rate lock
    status: int = 0
    btc_received: Decimal = Decimal(0)
    reference_id: str = ""
    ipn: str = ""
    notes: str = ""
    keep: Optional[int] = None
    redirect: str = ""
    paylink: Optional[str] = None
    # {"txid", "amount" (str), "confirmations"}
    transactions: list[dict[str, Any]] = field(default_factory=list)
    verify_tokens: list[str] = field(default_factory=list)  # one per IPN sent


@dataclass
class Paylink(_Record):
    DECIMALS: ClassVar[frozenset[str]] = frozenset({"amount"})
    DATES: ClassVar[frozenset[str]] = frozenset({"created_at"})

    hash: str
    api_key: str
    amount: Decimal
    currency: str
    created_at: datetime
    reference_id: str = ""
    ipn: str = ""
    redirect: str = ""
    order_id: Optional[int] = None


@dataclass
class Delivery(_Record):
    """One callback/IPN and every attempt to deliver it."""

    id: int
    provider: str  # "coinpay24" | "coinpay_th"
    ref_id: int  # invoice id or order id
    url: str
    fields: list[list[str]]  # ordered pairs, exactly as posted
    event: str  # the status the callback announces
    created_at: str
    state: str = "pending"  # pending | delivered | cancelled | exhausted
    next_at: float = 0.0  # epoch seconds of the next attempt
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        key = "invoice_id" if self.provider == "coinpay24" else "order_id"
        return {
            "id": self.id,
            "provider": self.provider,
            key: self.ref_id,
            "url": self.url,
            "event": self.event,
            "fields": dict(self.fields),
            "attempts": list(self.attempts),
            "state": self.state,
            "created_at": self.created_at,
        }


@dataclass
class WalletPayout(_Record):
    """One iCoinPay ``send`` the sandbox carried out (amount in base units)."""

    id: int
    api_key: str
    currency: str
    to: str
    amount: int
    user_hash: str
    created_at: str
    balance_after: int
    answer: str = "answered"  # answered | lost (the answer never reached the client)

    def public(self) -> dict[str, Any]:
        out = self.to_dict()
        out.pop("api_key")
        return out


# Every key starts with these balances (base units, coin x 10^8).
DEFAULT_WALLET = {"BTC": 100_000_000, "LTC": 10_000_000_000, "ETH": 1_000_000_000}


@dataclass
class SandboxConfig:
    coinpay24_api_keys: tuple[str, ...] = ("sandbox-coinpay24-key",)
    coinpay_th_credentials: dict[str, str] = field(
        default_factory=lambda: {"sandbox-th-key": "sandbox-th-secret"}
    )
    invoice_ttl_seconds: float = 1200
    order_ttl_seconds: float = 900
    time_scale: float = 1.0
    callback_timeout: float = 20.0
    delay: float = 0.0
    rate_limit_per_minute: Optional[int] = None
    base_url: str = "http://127.0.0.1:8765"
    icoinpay_api_keys: tuple[str, ...] = ("sandbox-icoinpay-key",)
    # callbacks are queued but not sent: a test or benchmark posts them itself
    # (``callbacks()`` has each one's signed fields) and times that POST alone
    hold_callbacks: bool = False


def first_ids() -> dict[str, int]:
    """Where provider id sequences start: the clock in milliseconds behind a
    digit per kind (1… invoices, 5… orders, 7… payouts), so a sandbox started
    again, without its state file, goes on above every id it gave before
    (unless it gave more than one id per millisecond since it started)."""
    clock = int(time.time() * 1000)
    return {
        kind: digit * 10**13 + clock
        for kind, digit in (("invoice", 1), ("order", 5), ("payout", 7))
    }


class Store:
    """Thread-safe state. Hold ``lock`` (or use ``mutate``) around any access."""

    def __init__(self, config: SandboxConfig, state_file: Optional[str] = None) -> None:
        self.config = config
        self.state_file = state_file
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        # ids keep growing across reset() so a stale id from an earlier test
        # can never address a new invoice, and across restarts (a shop keeps
        # the ids it was given; a provider never gives one out twice)
        self.seq: dict[str, int] = {**first_ids(), "delivery": 0}
        self.counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._clear()

    def _clear(self) -> None:
        self.invoices: dict[int, Invoice] = {}
        self.invoice_tokens: dict[str, int] = {}
        self.orders: dict[int, Order] = {}
        self.order_hashes: dict[str, int] = {}
        self.paylinks: dict[str, Paylink] = {}
        self.deliveries: dict[int, Delivery] = {}
        self.nonces: dict[str, int] = {}
        self.th_addresses: dict[str, str] = {}  # standing address per key
        self.time_offset = 0.0  # seconds added to the clock (advance_time)
        self.counters.clear()
        # iCoinPay: balances per key and coin (base units), payouts, and the
        # addresses that belong to no iCoinPay user (all others do)
        self.wallets: dict[str, dict[str, int]] = {}
        self.payouts: dict[int, WalletPayout] = {}
        self.unlinked: set[str] = set()
        self.send_limit: Optional[int] = None  # max base units per send (450 above)

    def wallet(self, key: str) -> dict[str, int]:
        with self.lock:
            return self.wallets.setdefault(key, dict(DEFAULT_WALLET))

    # -- clock ------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.time_offset)

    # -- helpers ----------------------------------------------------------
    def next_id(self, kind: str) -> int:
        with self.lock:
            self.seq[kind] += 1
            return self.seq[kind]

    @contextmanager
    def mutate(self) -> Iterator[None]:
        """Hold the lock for a change; persist and wake waiters afterwards."""
        with self.lock:
            yield
            self.save()
            self.cond.notify_all()

    def count_request(self, provider: str, endpoint: str) -> None:
        with self.lock:
            self.counters[provider][endpoint] += 1

    def request_counts(self) -> dict[str, dict[str, int]]:
        with self.lock:
            return {p: dict(c) for p, c in self.counters.items()}

    def add_delivery(
        self, provider: str, ref_id: int, url: str, pairs: list[tuple[str, str]], event: str
    ) -> Delivery:
        with self.lock:
            d = Delivery(
                id=self.next_id("delivery"),
                provider=provider,
                ref_id=ref_id,
                url=url,
                fields=[[k, v] for k, v in pairs],
                event=event,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                next_at=0.0,  # due at once
            )
            self.deliveries[d.id] = d
            self.cond.notify_all()
            return d

    def reset(self) -> None:
        with self.mutate():
            self._clear()

    # -- persistence ------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": 1,
                "seq": dict(self.seq),
                "time_offset": self.time_offset,
                "invoices": [i.to_dict() for i in self.invoices.values()],
                "orders": [o.to_dict() for o in self.orders.values()],
                "paylinks": [p.to_dict() for p in self.paylinks.values()],
                "deliveries": [d.to_dict() for d in self.deliveries.values()],
                "nonces": dict(self.nonces),
                "th_addresses": dict(self.th_addresses),
                "wallets": {k: dict(v) for k, v in self.wallets.items()},
                "payouts": [p.to_dict() for p in self.payouts.values()],
                "unlinked": sorted(self.unlinked),
                "send_limit": self.send_limit,
            }

    def save(self) -> None:
        if not self.state_file:
            return
        with self.lock:
            data = json.dumps(self.snapshot(), separators=(",", ":"))
            directory = os.path.dirname(os.path.abspath(self.state_file))
            fd, tmp = tempfile.mkstemp(prefix=".sandbox-state-", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(data)
                # atomic: a reader (or a crash) sees the old file or the new one
                os.replace(tmp, self.state_file)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    def load(self) -> bool:
        """Load the state file if it exists. Returns whether anything was loaded."""
        if not self.state_file or not os.path.exists(self.state_file):
            return False
        with open(self.state_file, encoding="utf-8") as fh:
            data = json.load(fh)
        with self.lock:
            self._clear()
            for kind, last in data.get("seq", {}).items():  # never back below the clock
                self.seq[kind] = max(self.seq.get(kind, 0), int(last))
            self.time_offset = float(data.get("time_offset", 0.0))
            for raw in data.get("invoices", []):
                inv = Invoice.from_dict(raw)
                self.invoices[inv.id] = inv
                self.invoice_tokens[inv.token] = inv.id
            for raw in data.get("orders", []):
                order = Order.from_dict(raw)
                self.orders[order.id] = order
                self.order_hashes[order.order_hash] = order.id
            for raw in data.get("paylinks", []):
                link = Paylink.from_dict(raw)
                self.paylinks[link.hash] = link
            for raw in data.get("deliveries", []):
                d = Delivery.from_dict(raw)
                self.deliveries[d.id] = d
            self.nonces = {k: int(v) for k, v in data.get("nonces", {}).items()}
            self.th_addresses = dict(data.get("th_addresses", {}))
            self.wallets = {k: dict(v) for k, v in data.get("wallets", {}).items()}
            for raw in data.get("payouts", []):
                payout = WalletPayout.from_dict(raw)
                self.payouts[payout.id] = payout
            self.unlinked = set(data.get("unlinked", []))
            self.send_limit = data.get("send_limit")
        log.info(
            "loaded %s: %d invoices, %d orders, %d deliveries",
            self.state_file,
            len(self.invoices),
            len(self.orders),
            len(self.deliveries),
        )
        return True


class ActionError(Exception):
    """A control action that the current state does not allow (HTTP ``status``)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def iso_utc(dt: datetime) -> str:
    """CoinPay24's timestamp form: ``2018-05-04T21:46:07+00:00``."""
    return dt.astimezone(UTC).isoformat(timespec="seconds")
