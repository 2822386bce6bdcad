"""Benchmark 8 (issue #16): callback → order, per edition, against Saleor's
own checkout on the same server in the same run.

One Saleor (``saleor.asgi:application`` under uvicorn, PostgreSQL, rows
really committed), one sandbox (callbacks held: the benchmark posts each one
itself and times that POST), the App as ``cryptopay-app serve`` processes on
a PostgreSQL database of their own (installed with ``appInstall``), the plugin
inside Saleor. Checkouts of one shape (3 × one variant, shipping, US address).

1. Latency, ``BENCH_ROUNDS`` interleaved rounds of every path:
   - dummy: ``checkoutComplete`` over HTTP with Saleor's dummy gateway (the
     payment created beforehand, untimed): request → order;
   - plugin / App × CoinPay24 / CoinPay.in.th: the invoice made beforehand
     (untimed), paid at the sandbox; timed from posting the provider's signed
     callback to the order existing, fully charged.
   Printed: p50 / p90 per path, each p50 as a ratio of the dummy's, and where
   the time goes (the ``Server-Timing`` phases both editions send when
   ``CRYPTOPAY_SERVER_TIMING`` is on) next to the floor: Saleor's own
   ``complete_checkout`` for that checkout, timed in Saleor's process.
2. Flash sale: ``BENCH_INVOICES`` paid at once, each callback sent 3 times
   (genuine resends), shuffled, 16 at once → exactly one order and one charge
   each; orders/s against ``BENCH_INVOICES`` dummy ``checkoutComplete`` 16 at
   once. App with one and with two ``serve`` processes on one database.
3. Provider calls per paid checkout, counted at the sandbox.

Run on a database of your own (the live server commits)::

    . /opt/saleor-env-3.23.28.sh && cd <checkout>
    DATABASE_URL=postgres://saleor:saleor@127.0.0.1:55432/saleor_speed \\
    python -m pytest benchmarks/bench_saleor_speed.py --reuse-db -p no:xdist \\
        -W ignore -o python_files='bench_*.py' -s -q
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import statistics
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("saleor", reason="needs a Saleor environment (see benchmarks/README.md)")
pytest.importorskip("uvicorn", reason="needs uvicorn (Saleor's own server)")

import requests  # noqa: E402
from saleor.account.models import Group  # noqa: E402
from saleor.app.models import App  # noqa: E402
from saleor.graphql.core.utils import to_global_id_or_none  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment.models import TransactionEvent  # noqa: E402

from saleor_cryptopay.models import Invoice  # noqa: E402
from tests.app_process import wait_for  # noqa: E402

# the App's own PostgreSQL database, as the two-process Saleor test makes it
from tests.saleor.test_app_two_processes import app_database  # noqa: E402, F401

from ._flow import complete, confirmation, create_payment  # noqa: E402
from ._live import (  # noqa: E402
    CompletionFloor,
    SaleorProfile,
    SaleorServer,
    app_process,
)
from ._report import header, pct  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
INVOICES = int(os.environ.get("BENCH_INVOICES", "30"))
COPIES = 3
WORKERS = 16
PARTS = set(os.environ.get("BENCH_PARTS", "latency,flash,two").split(","))
PROVIDERS = ("coinpay24", "coinpay_th")
DUMMY = "mirumee.payments.dummy"
APP_INSTALL = """mutation($url: String!) { appInstall(input: {appName: "CryptoPay",
    manifestUrl: $url, permissions: [HANDLE_PAYMENTS]}) {
    appInstallation { id status message } errors { field code message } } }"""
TXN_INIT = """mutation($id: ID!, $data: JSON) { transactionInitialize(id: $id,
    paymentGateway: {id: "saleor.cryptopay", data: $data}) {
    transaction { id pspReference } transactionEvent { type message }
    errors { field code message } } }"""
COMPLETE_HTTP = """mutation($id: ID!) { checkoutComplete(id: $id) {
    order { id } errors { field code message } } }"""

pytestmark = pytest.mark.django_db(transaction=True)


def dummy_plugin() -> str:
    """Saleor's dummy card gateway (renamed Deprecated… in 3.21+, same id)."""
    import saleor.payment.gateways.dummy.plugin as module

    name = (
        "DummyGatewayPlugin"
        if hasattr(module, "DummyGatewayPlugin")
        else "DeprecatedDummyGatewayPlugin"
    )
    return f"{module.__name__}.{name}"


def server_timing(response: requests.Response) -> dict[str, float]:
    """Phase → seconds, and ``<phase>#q`` → queries, from a Server-Timing header."""
    phases = {}
    for part in response.headers.get("Server-Timing", "").split(","):
        match = re.match(r'\s*(\w+);dur=([\d.]+)(?:;desc="(\d+) queries")?', part)
        if match:
            phases[match.group(1)] = float(match.group(2)) / 1000
            if match.group(3):
                phases[match.group(1) + "#q"] = int(match.group(3))
    return phases


def order_charged(token) -> bool:
    return Order.objects.filter(checkout_token=token, charge_status="full").exists()


def post_all(jobs: list, send, workers: int = WORKERS) -> float:
    """Run ``send(job)`` for every job from ``workers`` threads released
    together; returns the wall time."""
    barrier = threading.Barrier(workers + 1)
    queue = list(jobs)
    lock = threading.Lock()
    session_of = threading.local()

    def worker() -> None:
        session_of.session = requests.Session()
        barrier.wait()
        while True:
            with lock:
                if not queue:
                    return
                job = queue.pop()
            send(session_of.session, job)

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(worker) for _ in range(workers)]
        barrier.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()
    return time.perf_counter() - started


def test_speed(
    tmp_path,
    settings,
    configure_gateway,
    make_checkout,
    staff_api_client,
    permission_manage_apps,
    permission_manage_payments,
    api_client,
    checkout_total,
    replica_on_test_db,
    sb,
    app_database,  # noqa: F811 (the fixture imported above)
):
    settings.PLUGINS = [
        dummy_plugin(),
        "saleor_cryptopay.plugin.coinpay24.CoinPay24Plugin",
        "saleor_cryptopay.plugin.coinpay_th.CoinPayThPlugin",
        "saleor.plugins.webhook.plugin.WebhookPlugin",
    ]
    settings.CRYPTOPAY_SERVER_TIMING = True
    settings.HTTP_IP_FILTER_ALLOW_LOOPBACK_IPS = True
    sb.hold_callbacks()

    profile = SaleorProfile() if os.environ.get("BENCH_PROFILE") else contextlib.nullcontext()
    with SaleorServer() as saleor, CompletionFloor() as floor, profile:
        settings.PUBLIC_URL = saleor.url + "/"
        plugins = {p: configure_gateway(p) for p in PROVIDERS}
        with app_process(tmp_path, app_database, "app-1") as app:
            group = Group.objects.create(name="payments", restricted_access_to_channels=False)
            group.permissions.add(permission_manage_apps, permission_manage_payments)
            group.user_set.add(staff_api_client.user)
            installed = staff_api_client.post_graphql(
                APP_INSTALL, {"url": f"{app.url}/api/manifest"}
            )
            assert not installed.json()["data"]["appInstall"]["errors"], installed.json()
            assert App.objects.filter(identifier="saleor.cryptopay", is_active=True).exists()
            for provider in PROVIDERS:
                credentials = (
                    ["--api-key", sb.coinpay24_api_key, "--api-base-url", sb.coinpay24_base]
                    if provider == "coinpay24"
                    else ["--api-key", sb.coinpay_th_key, "--api-secret", sb.coinpay_th_secret,
                          "--api-base-url", sb.coinpay_th_base]
                )  # fmt: skip
                done = app.cli("configure", "--saleor-api-url", f"{saleor.url}/graphql/",
                               "--channel", "main", "--provider", provider,
                               *credentials)  # fmt: skip
                assert done.returncode == 0, done.stderr

            http = requests.Session()
            calls: dict[str, Counter] = defaultdict(Counter)
            paid: dict[str, int] = Counter()

            # -- setup of one paid checkout per path, untimed -------------------
            def counts() -> dict[str, dict[str, int]]:
                return {p: dict(c) for p, c in sb.request_counts().items()}

            def count_calls(path: str, provider: str, before: dict) -> None:
                after = counts().get(provider, {})
                for endpoint, n in after.items():
                    if n - before.get(provider, {}).get(endpoint, 0):
                        calls[path][endpoint] += n - before.get(provider, {}).get(endpoint, 0)

            def dummy_ready():
                checkout = make_checkout()
                create_payment(api_client, checkout, DUMMY, checkout_total(checkout),
                               token="dummy")  # noqa: S106  # fmt: skip
                return checkout

            def plugin_ready(provider):
                checkout = make_checkout()
                total = checkout_total(checkout)
                create_payment(api_client, checkout, plugins[provider].PLUGIN_ID, total,
                               "https://www.example.com/return")  # fmt: skip
                confirmation(complete(api_client, checkout))
                invoice = Invoice.objects.get(checkout_token=str(checkout.token))
                return checkout, invoice.provider_invoice_id

            def app_ready(provider):
                checkout = make_checkout()
                variables = {"id": to_global_id_or_none(checkout), "data": {"provider": provider}}
                content = api_client.post_graphql(TXN_INIT, variables).json()
                init = content["data"]["transactionInitialize"]
                assert init["transactionEvent"]["type"] == "CHARGE_ACTION_REQUIRED", init
                return checkout, init["transaction"]["pspReference"]

            def pay(provider, invoice_id, copies=1):
                sb.act(provider, invoice_id, "pay")
                for _ in range(copies - 1):
                    sb.act(provider, invoice_id, "resend")
                sent = sb.callbacks(provider, invoice_id)[-copies:]
                return [(d["url"], list(d["fields"].items()) if isinstance(d["fields"], dict)
                         else [tuple(p) for p in d["fields"]]) for d in sent]  # fmt: skip

            def post_callback(session, url, fields):
                response = session.post(url, data=fields, timeout=60)
                assert response.status_code == 200, (response.status_code, response.text)
                return response

            # -- 1. latency ----------------------------------------------------
            times: dict[str, list[float]] = defaultdict(list)
            phases: dict[str, list[dict[str, float]]] = defaultdict(list)
            floors: dict[str, list[float]] = defaultdict(list)
            duplicates: dict[str, list[float]] = defaultdict(list)

            def dummy_round(record: bool):
                checkout = dummy_ready()
                started = time.perf_counter()
                reply = http.post(saleor.url + "/graphql/", json={
                    "query": COMPLETE_HTTP, "variables": {"id": to_global_id_or_none(checkout)}},
                    timeout=60).json()  # fmt: skip
                elapsed = time.perf_counter() - started
                assert reply["data"]["checkoutComplete"]["order"], reply
                if record:
                    times["dummy"].append(elapsed)
                    floors["dummy"].append(floor.seconds[str(checkout.token)])

            def callback_round(edition, provider, record: bool):
                path = f"{edition} {provider}"
                before = counts()
                checkout, invoice_id = (plugin_ready if edition == "plugin" else app_ready)(
                    provider
                )
                [(url, fields)] = pay(provider, invoice_id)
                started = time.perf_counter()
                response = post_callback(http, url, fields)
                if not order_charged(checkout.token):
                    wait_for(lambda: order_charged(checkout.token), 60, "the order", 0.002)
                elapsed = time.perf_counter() - started
                started = time.perf_counter()
                post_callback(http, url, fields)  # the same callback again: a duplicate
                duplicate = time.perf_counter() - started
                time.sleep(0.2)  # late provider calls are counted too
                count_calls(path, provider, before)
                paid[path] += 1
                if record:
                    times[path].append(elapsed)
                    duplicates[path].append(duplicate)
                    phases[path].append(server_timing(response))
                    floors[path].append(floor.seconds[str(checkout.token)])

            paths = [("plugin", p) for p in PROVIDERS] + [("app", p) for p in PROVIDERS]
            if "latency" in PARTS:
                started = time.monotonic()
                for i in range(ROUNDS + 1):  # round 0 warms every path up, not counted
                    order = [("dummy", None), *paths]
                    if i % 2:
                        order.reverse()
                    for edition, provider in order:
                        if edition == "dummy":
                            dummy_round(i > 0)
                        else:
                            callback_round(edition, provider, i > 0)
                header("8.1 callback → order against Saleor's dummy checkoutComplete (uvicorn)")
                print(f"rounds {ROUNDS}, {time.monotonic() - started:.0f} s, load average "
                      + " ".join(f"{x:.2f}" for x in os.getloadavg()))  # fmt: skip
                dummy = statistics.median(times["dummy"])
                for path, values in times.items():
                    p50 = statistics.median(values)
                    fl = statistics.median(floors[path])
                    p90 = pct(values, 90)
                    print(f"{path:18} p50 {p50 * 1000:7.1f} ms  p90 {p90 * 1000:7.1f} ms"
                          f"  ratio {p50 / dummy:5.2f}× dummy  floor (complete_checkout) "
                          f"{fl * 1000:6.1f} ms  above floor {p50 / fl:5.2f}×")  # fmt: skip
                print("the same callback posted again (a duplicate), answered in p50: " + ", ".join(
                    f"{path} {statistics.median(v) * 1000:.1f} ms" for path, v in duplicates.items()
                ))  # fmt: skip
                print("where a callback's time goes (p50 per phase, ms; Server-Timing):")
                for path, rows in phases.items():
                    names = sorted({n for row in rows for n in row})
                    text = "  ".join(
                        f"{n} {statistics.median([r.get(n, 0.0) for r in rows]) * 1000:.1f}"
                        if not n.endswith("#q")
                        else f"({statistics.median([r.get(n, 0.0) for r in rows]):.0f} queries)"
                        for n in names
                    )
                    print(f"  {path:18} {text}")

            # -- 2. flash sale -------------------------------------------------
            def dummy_flash() -> float:
                checkouts = [dummy_ready() for _ in range(INVOICES)]

                def send(session, checkout):
                    session.post(saleor.url + "/graphql/", json={"query": COMPLETE_HTTP,
                                 "variables": {"id": to_global_id_or_none(checkout)}},
                                 timeout=120)  # fmt: skip

                wall = post_all(checkouts, send)
                made = Order.objects.filter(checkout_token__in=[c.token for c in checkouts])
                assert made.count() == INVOICES
                return INVOICES / wall

            def callback_flash(edition, provider, urls=None) -> float:
                path = f"{edition} {provider}"
                before = counts()
                ready = plugin_ready if edition == "plugin" else app_ready
                made = [ready(provider) for _ in range(INVOICES)]
                jobs = []
                for n, (_, invoice_id) in enumerate(made):
                    for k, (url, fields) in enumerate(pay(provider, invoice_id, COPIES)):
                        if urls:  # two App processes: the copies go to both
                            url = url.replace(urls[0], urls[(n + k) % len(urls)])
                        jobs.append((url, fields))
                random.Random(8).shuffle(jobs)

                def send(session, job):
                    post_callback(session, *job)

                started = time.perf_counter()
                post_all(jobs, send)
                tokens = [c.token for c, _ in made]
                charged = Order.objects.filter(checkout_token__in=tokens, charge_status="full")
                wait_for(lambda: charged.count() == INVOICES, 120, "every order", 0.01)
                wall = time.perf_counter() - started
                time.sleep(0.5)
                count_calls(path, provider, before)
                paid[path] += INVOICES
                orders = Order.objects.filter(checkout_token__in=tokens)
                assert orders.count() == INVOICES, orders.count()
                if edition == "app":
                    charges = TransactionEvent.objects.filter(
                        transaction__order__in=orders, type="charge_success"
                    )
                    per = Counter(charges.values_list("transaction__order_id", flat=True))
                    assert len(per) == INVOICES and set(per.values()) == {1}, per
                else:
                    from saleor.payment.models import Transaction

                    captures = Transaction.objects.filter(
                        payment__order__in=orders, kind="capture", is_success=True
                    ).count()
                    assert captures == INVOICES, captures
                return INVOICES / wall

            if "flash" in PARTS:
                header(f"8.2 flash sale: {INVOICES} paid at once × {COPIES} callbacks, "
                       f"{WORKERS} concurrent")  # fmt: skip
                dummy_rate = dummy_flash()
                print(f"dummy checkoutComplete  {dummy_rate:6.2f} orders/s, load average "
                      + " ".join(f"{x:.2f}" for x in os.getloadavg()))  # fmt: skip
                for edition, provider in paths:
                    rate = callback_flash(edition, provider)
                    print(f"{edition} {provider:10}   {rate:6.2f} orders/s  "
                          f"{rate / dummy_rate:5.2f}× dummy")  # fmt: skip

            if "two" in PARTS:
                with app_process(tmp_path, app_database, "app-2") as second:
                    dummy_rate = dummy_flash()
                    for provider in PROVIDERS:
                        rate = callback_flash("app", provider, urls=[app.url, second.url])
                        print(f"app ×2 processes {provider:10} {rate:6.2f} orders/s  "
                              f"{rate / dummy_rate:5.2f}× dummy ({dummy_rate:.2f})")  # fmt: skip

            if isinstance(profile, SaleorProfile):
                profile.print()
            header("8.3 provider calls per paid checkout (sandbox counts)")
            for path, counter in calls.items():
                n = paid[path]
                per = {k: round(v / n, 2) for k, v in sorted(counter.items())}
                print(f"{path:18} {sum(counter.values()) / n:.2f} {per}")
