"""The App edition installed into this Saleor and paid end to end: Saleor on
pytest-django's live server, ``cryptopay-app serve`` as a real process, the
sandbox as provider. Saleor talks to the App only over HTTP (signed
webhooks, the token POST) and the App to Saleor only over GraphQL."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from saleor.account.models import Group  # noqa: E402
from saleor.app.models import App  # noqa: E402
from saleor.graphql.core.utils import to_global_id_or_none  # noqa: E402
from saleor.order.models import Order  # noqa: E402

from tests.app_process import AppProcess, wait_for  # noqa: E402

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

APP_INSTALL = """mutation($url: String!) { appInstall(input: {appName: "CryptoPay",
    manifestUrl: $url, permissions: [HANDLE_PAYMENTS]}) {
    appInstallation { id status message } errors { field code message } } }"""
TXN_INIT = """mutation($id: ID!, $data: JSON) { transactionInitialize(id: $id,
    paymentGateway: {id: "saleor.cryptopay", data: $data}) {
    transaction { id pspReference } transactionEvent { type message } data
    errors { field code message } } }"""
TXN_PROCESS = """mutation($id: ID!) { transactionProcess(id: $id) {
    transaction { id pspReference } transactionEvent { type message } data
    errors { field code message } } }"""


def app_python() -> str:
    """The App runs apart from Saleor (as deployed): CRYPTOPAY_APP_PYTHON names
    a Python with this package's dependencies (waitress…) when Saleor's has not."""
    python = os.environ.get("CRYPTOPAY_APP_PYTHON") or sys.executable
    probe = subprocess.run([python, "-c", "import waitress, dj_database_url, jwt"], check=False)
    if probe.returncode:
        pytest.skip("no Python with the App's dependencies: set CRYPTOPAY_APP_PYTHON")
    return python


@pytest.fixture
def app_process(tmp_path):
    """The App as a real process on its own SQLite file; yields (url, cli)."""
    app = AppProcess(tmp_path, python=app_python()).start()
    yield app.url, app.cli
    app.stop()
    print(app.log_tail())  # shown when the test fails


def test_app_install_and_paid_checkout(
    live_callbacks,
    app_process,
    staff_api_client,
    permission_manage_apps,
    permission_manage_payments,
    api_client,
    ready_checkout,
    checkout_total,
    sb,
    settings,
):
    app_url, cli = app_process
    # Apps are reached through Saleor's webhook plugin (crypto_plugins leaves it out)
    settings.PLUGINS = [*settings.PLUGINS, "saleor.plugins.webhook.plugin.WebhookPlugin"]
    saleor_api = live_callbacks.url + "/graphql/"
    # appInstall grants only permissions the installing staff holds; channel
    # access (transactionRequestAction checks it) comes from a group
    group = Group.objects.create(name="payments", restricted_access_to_channels=False)
    group.permissions.add(permission_manage_apps, permission_manage_payments)
    group.user_set.add(staff_api_client.user)
    content = staff_api_client.post_graphql(APP_INSTALL, {"url": f"{app_url}/api/manifest"})
    assert not content.json()["data"]["appInstall"]["errors"]
    app = App.objects.get(identifier="saleor.cryptopay")
    assert app.is_active and app.webhooks.count() == 6  # five sync events and APP_DELETED

    configured = cli("configure", "--saleor-api-url", saleor_api, "--channel", "main",
                     "--provider", "coinpay24", "--api-key", sb.coinpay24_api_key,
                     "--api-base-url", sb.coinpay24_base)  # fmt: skip
    assert configured.returncode == 0, configured.stderr

    checkout_id = to_global_id_or_none(ready_checkout)
    total = checkout_total(ready_checkout)
    # a FAILURE answer without pspReference passes Saleor's (3.21+ strict) schema
    data = api_client.post_graphql(TXN_INIT, {"id": checkout_id, "data": {"provider": "nope"}})
    refused = data.json()["data"]["transactionInitialize"]
    assert refused["transactionEvent"]["type"] == "CHARGE_FAILURE", refused
    assert "offered for" in refused["transactionEvent"]["message"], refused

    data = api_client.post_graphql(TXN_INIT, {"id": checkout_id, "data": {"provider": "coinpay24"}})
    init = data.json()["data"]["transactionInitialize"]
    assert not init["errors"], init["errors"]
    assert init["transactionEvent"]["type"] == "CHARGE_ACTION_REQUIRED", init
    psp = init["transaction"]["pspReference"]
    assert init["data"]["invoice_id"] == psp and init["data"]["amount"] == f"{total:.2f}"

    # the shopper back before paying: still open (read again at most every 30 s)
    data = api_client.post_graphql(TXN_PROCESS, {"id": init["transaction"]["id"]})
    process = data.json()["data"]["transactionProcess"]
    assert not process["errors"], process["errors"]
    assert process["transactionEvent"]["type"] == "CHARGE_ACTION_REQUIRED", process
    assert process["data"]["invoice_id"] == psp

    sb.act("coinpay24", psp, "pay")
    order = wait_for(lambda: Order.objects.filter(checkout_token=ready_checkout.token).first())
    wait_for(lambda: Order.objects.get(pk=order.pk).charge_status == "full")
    order.refresh_from_db()
    assert order.total_charged_amount == total
    # the refused first attempt left an empty transaction; the charge is on one
    [transaction] = order.payment_transactions.filter(charged_value__gt=0)
    assert transaction.psp_reference == psp
    charges = transaction.events.filter(type="charge_success")
    assert charges.count() == 1 and charges[0].amount_value == total


REFUND_ACTION = """mutation($id: ID!, $amount: PositiveDecimal) { transactionRequestAction(
    id: $id, actionType: REFUND, amount: $amount) { errors { field code message } } }"""
BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def test_app_refund_pending_then_refunded_by_the_payout(
    live_callbacks,
    app_process,
    staff_api_client,
    permission_manage_apps,
    permission_manage_payments,
    api_client,
    ready_checkout,
    checkout_total,
    sb,
    settings,
):
    """A Dashboard refund on the App's transaction: Saleor 3.20 takes the async
    ack as refund pending; the payout queue's REFUND_SUCCESS makes it refunded."""
    app_url, cli = app_process
    settings.PLUGINS = [*settings.PLUGINS, "saleor.plugins.webhook.plugin.WebhookPlugin"]
    saleor_api = live_callbacks.url + "/graphql/"
    staff_api_client.user.user_permissions.add(permission_manage_apps, permission_manage_payments)
    content = staff_api_client.post_graphql(APP_INSTALL, {"url": f"{app_url}/api/manifest"})
    assert not content.json()["data"]["appInstall"]["errors"]
    configured = cli("configure", "--saleor-api-url", saleor_api, "--channel", "main",
                     "--provider", "coinpay_th", "--api-key", sb.coinpay_th_key,
                     "--api-secret", sb.coinpay_th_secret, "--api-base-url", sb.coinpay_th_base,
                     "--icoinpay-api-key", sb.icoinpay_api_key,
                     "--icoinpay-api-base-url", sb.icoinpay_base)  # fmt: skip
    assert configured.returncode == 0, configured.stderr
    total = checkout_total(ready_checkout)
    data = api_client.post_graphql(
        TXN_INIT, {"id": to_global_id_or_none(ready_checkout), "data": {"provider": "coinpay_th"}}
    )
    init = data.json()["data"]["transactionInitialize"]
    assert not init["errors"], init["errors"]
    sb.act("coinpay_th", init["transaction"]["pspReference"], "pay")
    order = wait_for(lambda: Order.objects.filter(checkout_token=ready_checkout.token).first())
    wait_for(lambda: Order.objects.get(pk=order.pk).charge_status == "full")
    [transaction] = order.payment_transactions.all()

    # transactionRequestAction also checks the staff's channel access
    group = Group.objects.create(name="refunds", restricted_access_to_channels=False)
    group.permissions.add(permission_manage_payments)
    staff_api_client.user.groups.add(group)
    part = (total / 2).quantize(total)
    content = staff_api_client.post_graphql(
        REFUND_ACTION, {"id": init["transaction"]["id"], "amount": str(part)}
    )
    assert not content.json()["data"]["transactionRequestAction"]["errors"]
    transaction.refresh_from_db()
    assert transaction.refund_pending_value == part  # in progress, not refunded
    assert transaction.refunded_value == 0 and transaction.charged_value == total - part
    listed = cli("refunds")
    assert "awaiting_address" in listed.stdout and "/api/claim/" in listed.stdout, listed

    assert cli("refunds", "--address", "1", BTC).returncode == 0
    paid = cli("payouts")
    assert "refund #1: sent" in paid.stdout, paid
    transaction.refresh_from_db()
    assert transaction.refunded_value == part and transaction.refund_pending_value == 0
    assert transaction.events.filter(type="refund_success", psp_reference="cryptopay-refund-1")
    [payout] = sb.payouts()
    assert payout["to"] == BTC
