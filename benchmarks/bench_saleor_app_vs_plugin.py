"""Benchmark 7: App edition against plugin edition, side by side in one run.

One Saleor (pytest-django's live server, rows really committed), one sandbox,
CoinPay24, checkouts of the same shape, alternating plugin/App, App/plugin.

- plugin (after_payment mode): checkoutPaymentCreate + checkoutComplete create
  the invoice (untimed). Timed: the sandbox marks it paid and delivers its
  callback to the plugin's URL on the live server → the order exists.
- App (``cryptopay-app serve``, a real process with its own SQLite):
  ``transactionInitialize`` creates the invoice (untimed). Timed: the sandbox
  marks it paid and delivers its callback to the App → the App re-reads the
  invoice, sends ``transactionEventReport`` and ``checkoutComplete`` over HTTP
  → the order exists.

Provider calls per paid checkout are counted at the sandbox, from before the
invoice is created to 0.5 s after the order exists (late calls included).
The App's one credential check at ``configure`` is outside every window.

The live server commits: run on your own test database (DATABASE_URL names
it; ``benchmarks.settings`` would use the shared ``test_saleor_bench``)::

    BENCH_CHECKOUTS=10 python -m pytest benchmarks/bench_saleor_app_vs_plugin.py \\
        --reuse-db -p no:xdist -W ignore -o python_files='bench_*.py' -s -q
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter

import pytest

pytest.importorskip("saleor", reason="needs a Saleor environment (/opt/saleor-env-3.20.sh)")

from saleor.account.models import Group  # noqa: E402
from saleor.app.models import App  # noqa: E402
from saleor.graphql.core.utils import to_global_id_or_none  # noqa: E402
from saleor.order.models import Order  # noqa: E402

from saleor_cryptopay.models import Invoice  # noqa: E402
from tests.saleor.conftest import live_callbacks  # noqa: E402, F401
from tests.saleor.test_app_live import APP_INSTALL, TXN_INIT, app_process  # noqa: E402, F401

from ._flow import complete, confirmation, create_payment  # noqa: E402
from ._report import header, summary_ms  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

N = int(os.environ.get("BENCH_CHECKOUTS", "10"))
MAX_SECONDS = float(os.environ.get("BENCH_MAX_SECONDS", "300"))
PROVIDER = "coinpay24"


def wait_order(checkout, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Order.objects.filter(checkout_token=checkout.token).exists():
            return time.monotonic()
        time.sleep(0.01)
    raise AssertionError(f"no order for checkout {checkout.token}")


def calls_since(sb, before: dict) -> Counter:
    time.sleep(0.5)
    after = sb.request_counts().get(PROVIDER, {})
    return Counter({k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)})


def test_app_vs_plugin(
    live_callbacks,  # noqa: F811
    app_process,  # noqa: F811
    configure_gateway,
    make_checkout,
    checkout_total,
    staff_api_client,
    permission_manage_apps,
    permission_manage_payments,
    api_client,
    sb,
    settings,
):
    # the plugin, pointed at the sandbox; its callbacks reach the live server
    plugin = configure_gateway(PROVIDER)
    # the App, installed with appInstall through Saleor's webhook plugin
    app_url, cli = app_process
    settings.PLUGINS = [*settings.PLUGINS, "saleor.plugins.webhook.plugin.WebhookPlugin"]
    group = Group.objects.create(name="payments", restricted_access_to_channels=False)
    group.permissions.add(permission_manage_apps, permission_manage_payments)
    group.user_set.add(staff_api_client.user)
    content = staff_api_client.post_graphql(APP_INSTALL, {"url": f"{app_url}/api/manifest"})
    assert not content.json()["data"]["appInstall"]["errors"]
    assert App.objects.filter(identifier="saleor.cryptopay", is_active=True).exists()
    configured = cli("configure", "--saleor-api-url", live_callbacks.url + "/graphql/",
                     "--channel", "main", "--provider", PROVIDER, "--api-key",
                     sb.coinpay24_api_key, "--api-base-url", sb.coinpay24_base)  # fmt: skip
    assert configured.returncode == 0, configured.stderr

    def plugin_round():
        checkout = make_checkout()
        before = sb.request_counts().get(PROVIDER, {})
        create_payment(api_client, checkout, plugin.PLUGIN_ID, checkout_total(checkout),
                       "https://www.example.com/return")  # fmt: skip
        confirmation(complete(api_client, checkout))
        invoice = Invoice.objects.get(checkout_token=str(checkout.token)).provider_invoice_id
        t0 = time.monotonic()
        sb.act(PROVIDER, invoice, "pay")
        elapsed = wait_order(checkout) - t0
        return elapsed, calls_since(sb, before), checkout

    def app_round():
        checkout = make_checkout()
        before = sb.request_counts().get(PROVIDER, {})
        variables = {"id": to_global_id_or_none(checkout), "data": {"provider": PROVIDER}}
        init = api_client.post_graphql(TXN_INIT, variables).json()["data"]["transactionInitialize"]
        assert init["transactionEvent"]["type"] == "CHARGE_ACTION_REQUIRED", init
        t0 = time.monotonic()
        sb.act(PROVIDER, init["transaction"]["pspReference"], "pay")
        elapsed = wait_order(checkout) - t0
        return elapsed, calls_since(sb, before), checkout

    results = {"plugin": ([], Counter(), []), "app": ([], Counter(), [])}
    rounds = {"plugin": plugin_round, "app": app_round}
    start = time.monotonic()
    for i in range(N + 1):  # round 0 warms both up and is not counted
        if time.monotonic() - start > MAX_SECONDS:
            break
        for name in ("plugin", "app") if i % 2 else ("app", "plugin"):
            elapsed, calls, checkout = rounds[name]()
            if i:
                results[name][0].append(elapsed)
                results[name][1].update(calls)
                results[name][2].append(checkout)

    header(f"7. App vs plugin edition, {PROVIDER}, callback → order (live server)")
    for name, (times, calls, checkouts) in results.items():
        orders = Order.objects.filter(checkout_token__in=[c.token for c in checkouts])
        full = orders.filter(charge_status="full").count()
        n = len(checkouts)
        per = {k: round(v / n, 2) for k, v in sorted(calls.items())}
        print(f"{name:6} {summary_ms(times)} | orders {orders.count()}/{n}, fully charged {full} "
              f"| provider calls per checkout {sum(calls.values()) / n:.2f} {per}")  # fmt: skip
        assert orders.count() == n == full
    ratio = statistics.median(results["app"][0]) / statistics.median(results["plugin"][0])
    print(f"ratio of medians App/plugin: {ratio:.2f}")
