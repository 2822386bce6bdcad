"""The shared provider quota (no Saleor): real HTTP to a sandbox enforcing
CoinPay24's published limits, the budget in the database, and separate
processes sharing it through an SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from saleor_cryptopay.models import QuotaCall
from saleor_cryptopay.providers.coinpay24 import CoinPay24Client
from saleor_cryptopay.providers.errors import ProviderError
from saleor_cryptopay.providers.quota import (
    BACKGROUND,
    CALLBACK,
    CHECKOUT,
    LIMITS,
    Window,
    scaled,
)
from saleor_cryptopay.quota import DatabaseBudget, attach, key_digest
from saleor_cryptopay.sandbox import SandboxServer

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
SCALE = 0.5  # a CoinPay24 "minute" of 30 s: 200 calls fit in it even on a loaded machine


@pytest.fixture(scope="module")
def limited():
    with SandboxServer(
        port=0, time_scale=SCALE, rate_limit=True, coinpay24_api_keys=("key-a", "key-b")
    ) as sb:
        yield sb


@pytest.fixture
def sb(limited):
    limited.reset()
    yield limited
    limited.clear_faults()


def client(sb, priority, *, key="key-a", windows=None, max_wait=0.0):
    c = CoinPay24Client(key, base_url=sb.coinpay24_base, timeout=(3, 3))
    c.http.quota = DatabaseBudget(
        "coinpay24",
        key,
        windows=scaled(LIMITS["coinpay24"], SCALE) if windows is None else windows,
        max_wait=max_wait,
        margin=0.05,
    )
    c.http.priority = priority
    return c


def call_until_refused(clients, limit=400):
    """Calls round-robin over ``clients``; the number answered and the refusal."""
    for n in range(limit):
        try:
            clients[n % len(clients)].list_invoices(per_page=1)
        except ProviderError as exc:
            return n, exc
    return limit, None


def test_two_transports_share_the_budget_and_background_leaves_checkout_its_reserve(sb):
    # two transports with budgets of their own, as in two processes
    background = [client(sb, BACKGROUND), client(sb, BACKGROUND)]
    done, exc = call_until_refused(background)
    assert done == 160  # 80 % of the 200-call minute, both transports together
    assert exc.code == "quota" and exc.retryable and 0 < exc.retry_after <= 60 * SCALE * 1.01
    assert "background" in exc.message

    callback = client(sb, CALLBACK)
    done, exc = call_until_refused([callback])
    assert done == 20 and exc.code == "quota"  # callbacks up to 90 %

    checkout = [client(sb, CHECKOUT), client(sb, CHECKOUT)]
    done, exc = call_until_refused(checkout)
    assert done == 20 and exc.code == "quota"  # checkout gets the whole quota
    assert sb.quotas.refused == 0  # we never made the provider say 429
    assert sb.request_counts()["coinpay24"]["invoices/list"] == 200

    # and the budget stopped exactly at the provider's limit: one more is a 429
    unbudgeted = CoinPay24Client("key-a", base_url=sb.coinpay24_base, timeout=(3, 3))
    with pytest.raises(ProviderError) as raw:
        unbudgeted.list_invoices()
    assert raw.value.status_code == 429 and raw.value.code == "rate_limited"
    # another key has a quota of its own
    assert client(sb, BACKGROUND, key="key-b").list_invoices(per_page=1).invoices == []


def test_checkout_waits_a_moment_for_room_rather_than_fail(sb):
    tiny = [Window("per half second", 0.5, 3)]
    checkout = client(sb, CHECKOUT, windows=tiny, max_wait=2.0)
    started = time.monotonic()
    for _ in range(4):  # the 4th waits for the window to slide instead of failing
        checkout.list_invoices(per_page=1)
    assert time.monotonic() - started > 0.3
    # background never waits: it is refused and tries on its next run (a
    # window too long to slide during the test, on the other key)
    roomy = [Window("per 30 seconds", 30, 3)]
    for _ in range(3):
        client(sb, CHECKOUT, key="key-b", windows=roomy).list_invoices(per_page=1)
    background = client(sb, BACKGROUND, key="key-b", windows=roomy, max_wait=2.0)
    with pytest.raises(ProviderError) as exc:
        background.list_invoices(per_page=1)
    assert exc.value.code == "quota"


RETRY_AFTER = 3


def test_a_429_stops_every_transport_until_retry_after(sb):
    first, other_bg, other_checkout = (
        client(sb, CHECKOUT, max_wait=2.0),
        client(sb, BACKGROUND),
        client(sb, CHECKOUT, max_wait=2.0),
    )
    # long enough that a loaded machine cannot let it pass mid-test
    sb.inject_fault("coinpay24", "rate_limit", count=1, retry_after=RETRY_AFTER)
    with pytest.raises(ProviderError) as exc:
        first.list_invoices()
    assert exc.value.status_code == 429
    sent = sb.request_counts()["coinpay24"]["invoices/list"]

    waits: list[float] = []  # checkout fails fast: it never sleeps on a provider's block
    for other in (other_bg, other_checkout, first):
        other.http.quota._sleep = waits.append
        with pytest.raises(ProviderError) as exc:
            other.list_invoices()
        assert exc.value.code == "rate_limited" and exc.value.retryable
        assert 0 < exc.value.retry_after <= RETRY_AFTER
        assert exc.value.status_code is None  # refused here, not by the provider
    assert waits == []
    assert sb.request_counts()["coinpay24"]["invoices/list"] == sent

    time.sleep(RETRY_AFTER + 0.05)
    assert other_bg.list_invoices(per_page=1).invoices == []


def test_each_invoice_books_the_re_read_its_callback_will_need(sb):
    ten = [Window("per minute", 60, 10)]
    checkout, callback = client(sb, CHECKOUT, windows=ten), client(sb, CALLBACK, windows=ten)
    created = []
    with pytest.raises(ProviderError) as exc:
        for n in range(10):
            created.append(
                checkout.create_invoice(order_id=f"b-{n}", price_amount="5", price_currency="USD")
            )
    assert len(created) == 5 and exc.value.code == "quota"  # 5 creations + 5 booked re-reads
    # the window is full, yet every callback's re-read goes through
    assert [callback.get_invoice(i.id).id for i in created] == [i.id for i in created]
    with pytest.raises(ProviderError):  # nothing booked left: callbacks get 90 % of 10
        callback.get_invoice(created[0].id)
    assert sorted(QuotaCall.objects.values_list("weight", flat=True)) == [1] * 10
    assert sb.request_counts()["coinpay24"] == {"invoices/create": 5, "invoices/get": 5}


def test_only_a_digest_of_the_key_is_stored(sb):
    checkout = client(sb, CHECKOUT)
    checkout.create_invoice(order_id="q-1", price_amount="10.00", price_currency="USD")
    row = QuotaCall.objects.get()
    assert row.key_digest == key_digest("key-a") and "key-a" not in repr(checkout.http.quota)
    assert row.path == "invoices/create"  # counted by the invoices-per-hour window too
    assert row.priority == CHECKOUT


def test_attach_follows_the_settings(sb, settings):
    transport = CoinPay24Client("key-a", base_url=sb.coinpay24_base).http
    settings.CRYPTOPAY_QUOTA_ENABLED = True
    settings.CRYPTOPAY_QUOTA_LIMITS = {"coinpay24": [{"name": "raised", "seconds": 60, "limit": 5}]}
    attach(transport, "key-a", BACKGROUND)
    assert transport.priority == BACKGROUND
    assert transport.quota.windows == (Window("raised", 60, 5),)
    settings.CRYPTOPAY_QUOTA_ENABLED = False
    assert attach(transport, "key-a", CHECKOUT).quota is None
    with pytest.raises(ValueError):
        attach(transport, "key-a", "urgent")


# -- separate processes ------------------------------------------------------------


def worker(db: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.core.quota_worker", str(db), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def results(procs: list[subprocess.Popen]) -> list[dict]:
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def total(rows: list[dict], name: str) -> int:
    return sum(r.get(name, 0) for r in rows)


def test_processes_share_the_budget_through_the_database(sb, tmp_path):
    db = tmp_path / "quota.sqlite3"
    results([worker(db, "migrate")])
    windows = json.dumps([{"name": "per minute", "seconds": 60, "limit": 20}])

    def run(key: str, priority: str, n: int, copies: int = 2) -> list[dict]:
        args = ("calls", sb.coinpay24_base, key, priority, str(n), windows)
        return results([worker(db, *args) for _ in range(copies)])

    background = run("key-a", BACKGROUND, 15)
    assert total(background, "ok") == 16 and total(background, "quota") == 14
    checkout = run("key-a", CHECKOUT, 5)
    assert total(checkout, "ok") == 4 and total(checkout, "quota") == 6
    assert sb.request_counts()["coinpay24"]["invoices/list"] == 20

    # one process meets a 429: the others stop too, without asking
    sb.inject_fault("coinpay24", "rate_limit", count=1, retry_after=60)
    assert (
        results([worker(db, "calls", sb.coinpay24_base, "key-b", CHECKOUT, "1", windows)])[0][
            "http_429"
        ]
        == 1
    )
    others = run("key-b", BACKGROUND, 3) + run("key-b", CHECKOUT, 3)
    assert total(others, "rate_limited") == 12 and total(others, "ok") == 0
    assert sb.request_counts()["coinpay24"]["invoices/list"] == 21


def test_coinpay_th_calls_are_not_counted_but_a_429_stops_them_all(sb):
    from saleor_cryptopay.providers.coinpay_th import CoinPayThClient

    def th(priority):
        c = CoinPayThClient(
            sb.coinpay_th_key, sb.coinpay_th_secret, base_url=sb.coinpay_th_base, timeout=(3, 3)
        )
        c.http.quota, c.http.priority = DatabaseBudget("coinpay_th", sb.coinpay_th_key), priority
        return c

    first, other = th(CHECKOUT), th(BACKGROUND)
    first.balance()
    assert not QuotaCall.objects.exists()  # no published quota: nothing counted
    sb.inject_fault("coinpay_th", "rate_limit", count=1, retry_after=30)
    with pytest.raises(ProviderError) as exc:
        first.balance()
    assert exc.value.status_code == 429
    with pytest.raises(ProviderError) as exc:
        other.balance()
    assert exc.value.code == "rate_limited" and 29 < exc.value.retry_after <= 30
