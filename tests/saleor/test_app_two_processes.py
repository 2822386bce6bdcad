"""Two ``cryptopay-app serve`` processes on one PostgreSQL database, a real
Saleor (live server): 20 concurrent copies of the paid callback, split
between the two processes and racing the sandbox's own delivery, end in one
order and exactly one CHARGE_SUCCESS report reaching Saleor."""

import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.db import connection  # noqa: E402
from saleor.account.models import Group  # noqa: E402
from saleor.graphql.core.utils import to_global_id_or_none  # noqa: E402
from saleor.graphql.payment.mutations.transaction import (  # noqa: E402
    transaction_event_report,
)
from saleor.order.models import Order  # noqa: E402

from tests.app_process import AppProcess  # noqa: E402

from .test_app_live import APP_INSTALL, TXN_INIT, app_python, wait_for  # noqa: E402

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def app_database():
    """A PostgreSQL database of the App's own, beside Saleor's test database."""
    name = f"cryptopay_app_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    db = connection.settings_dict
    yield f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{name}"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def two_apps(tmp_path, app_database):
    python = app_python()
    driver = subprocess.run([python, "-c", "import psycopg"], check=False)
    if driver.returncode:
        pytest.skip(f"{python} has no PostgreSQL driver: pip install 'saleor-cryptopay[postgres]'")
    apps = []
    try:
        for n in range(2):
            app = AppProcess(tmp_path, python=python, database_url=app_database,
                             log_name=f"app{n}.log")  # fmt: skip
            apps.append(app)
            app.start()  # one after the other: each runs the App's migrations at start
        urls = [app.url for app in apps]

        def cli(*args):
            return apps[-1].cli(*args, extra_env={"APP_URL": urls[0]})

        yield urls, cli
    finally:
        for app in apps:
            app.stop()
        for app in apps:
            print(app.log_tail(2000))  # shown when the test fails


def test_concurrent_duplicates_across_two_processes(
    live_callbacks,
    two_apps,
    staff_api_client,
    permission_manage_apps,
    permission_manage_payments,
    api_client,
    ready_checkout,
    checkout_total,
    sb,
    settings,
    monkeypatch,
):
    (first, second), cli = two_apps
    settings.PLUGINS = [*settings.PLUGINS, "saleor.plugins.webhook.plugin.WebhookPlugin"]
    group = Group.objects.create(name="payments", restricted_access_to_channels=False)
    group.permissions.add(permission_manage_apps, permission_manage_payments)
    group.user_set.add(staff_api_client.user)
    content = staff_api_client.post_graphql(APP_INSTALL, {"url": f"{first}/api/manifest"})
    assert not content.json()["data"]["appInstall"]["errors"]
    configured = cli("configure", "--saleor-api-url", live_callbacks.url + "/graphql/",
                     "--channel", "main", "--provider", "coinpay24", "--api-key",
                     sb.coinpay24_api_key, "--api-base-url", sb.coinpay24_base)  # fmt: skip
    assert configured.returncode == 0, configured.stderr

    # every transactionEventReport that reaches Saleor, whatever its outcome
    reports = []
    report = transaction_event_report.TransactionEventReport
    original = report.perform_mutation

    def counted(cls, root, info, /, **data):
        reports.append(str(data.get("type")))
        return original(root, info, **data)

    monkeypatch.setattr(report, "perform_mutation", classmethod(counted))

    total = checkout_total(ready_checkout)
    variables = {"id": to_global_id_or_none(ready_checkout), "data": {"provider": "coinpay24"}}
    init = api_client.post_graphql(TXN_INIT, variables).json()["data"]["transactionInitialize"]
    assert init["transactionEvent"]["type"] == "CHARGE_ACTION_REQUIRED", init
    psp = init["transaction"]["pspReference"]

    sb.act("coinpay24", psp, "pay")  # the sandbox starts delivering to the first process
    [delivery] = sb.callbacks("coinpay24", psp)
    path = urlsplit(delivery["url"]).path
    targets = [f"{(first, second)[i % 2]}{path}" for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(
            lambda url: requests.post(url, data=delivery["fields"], timeout=60).status_code,
            targets,
        ))  # fmt: skip
    assert set(codes) == {200}, codes

    order = wait_for(lambda: Order.objects.filter(checkout_token=ready_checkout.token).first())
    wait_for(lambda: Order.objects.get(pk=order.pk).charge_status == "full")
    time.sleep(2)  # late reports, if any, would land now
    assert Order.objects.filter(checkout_token=ready_checkout.token).count() == 1
    [txn] = order.payment_transactions.filter(psp_reference=psp)
    assert txn.events.filter(type="charge_success").count() == 1
    assert txn.charged_value == total
    charge_reports = [t for t in reports if "SUCCESS" in t.upper()]
    assert len(charge_reports) == 1, reports
