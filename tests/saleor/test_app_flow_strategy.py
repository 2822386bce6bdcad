"""The App under each channel transaction flow strategy (Saleor's
``paymentSettings.defaultTransactionFlowStrategy``): CHARGE, and
AUTHORIZATION as Saleor 3.23's sample data sets it. Crypto is paid at once,
so a paid invoice is a charge either way: the checkout completes and the
order is fully charged. While the shopper pays, the session answers match
the action Saleor asked for (``AUTHORIZATION_ACTION_REQUIRED`` under
AUTHORIZATION)."""

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from saleor.account.models import Group  # noqa: E402
from saleor.app.models import App  # noqa: E402
from saleor.graphql.core.utils import to_global_id_or_none  # noqa: E402
from saleor.order.models import Order  # noqa: E402

from . import test_app_live as live  # noqa: E402
from .test_app_live import APP_INSTALL, TXN_INIT, TXN_PROCESS, wait_for  # noqa: E402

app_process = live.app_process  # the App as a real process (its fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CHANNEL_FLOW = """mutation($id: ID!, $flow: TransactionFlowStrategyEnum!) {
    channelUpdate(id: $id, input: {paymentSettings: {defaultTransactionFlowStrategy: $flow}}) {
    channel { paymentSettings { defaultTransactionFlowStrategy } }
    errors { field code message } } }"""


@pytest.mark.parametrize("flow", ["CHARGE", "AUTHORIZATION"])
def test_app_paid_checkout_under_each_flow_strategy(
    flow,
    live_callbacks,
    app_process,
    staff_api_client,
    permission_manage_apps,
    permission_manage_payments,
    permission_manage_channels,
    api_client,
    ready_checkout,
    checkout_total,
    channel_USD,
    sb,
    settings,
):
    app_url, cli = app_process
    settings.PLUGINS = [*settings.PLUGINS, "saleor.plugins.webhook.plugin.WebhookPlugin"]
    saleor_api = live_callbacks.url + "/graphql/"
    group = Group.objects.create(name="payments", restricted_access_to_channels=False)
    group.permissions.add(permission_manage_apps, permission_manage_payments)
    group.permissions.add(permission_manage_channels)
    group.user_set.add(staff_api_client.user)
    content = staff_api_client.post_graphql(
        CHANNEL_FLOW, {"id": to_global_id_or_none(channel_USD), "flow": flow}
    )
    updated = content.json()["data"]["channelUpdate"]
    assert not updated["errors"], updated
    assert updated["channel"]["paymentSettings"]["defaultTransactionFlowStrategy"] == flow
    content = staff_api_client.post_graphql(APP_INSTALL, {"url": f"{app_url}/api/manifest"})
    assert not content.json()["data"]["appInstall"]["errors"]
    assert App.objects.filter(identifier="saleor.cryptopay", is_active=True).exists()
    configured = cli("configure", "--saleor-api-url", saleor_api, "--channel", "main",
                     "--provider", "coinpay24", "--api-key", sb.coinpay24_api_key,
                     "--api-base-url", sb.coinpay24_base)  # fmt: skip
    assert configured.returncode == 0, configured.stderr

    total = checkout_total(ready_checkout)
    data = api_client.post_graphql(
        TXN_INIT, {"id": to_global_id_or_none(ready_checkout), "data": {"provider": "coinpay24"}}
    )
    init = data.json()["data"]["transactionInitialize"]
    assert not init["errors"], init["errors"]
    waiting = f"{flow}_ACTION_REQUIRED"
    assert init["transactionEvent"]["type"] == waiting, init
    psp = init["transaction"]["pspReference"]
    data = api_client.post_graphql(TXN_PROCESS, {"id": init["transaction"]["id"]})
    process = data.json()["data"]["transactionProcess"]
    assert not process["errors"], process["errors"]
    assert process["transactionEvent"]["type"] == waiting, process

    sb.act("coinpay24", psp, "pay")
    order = wait_for(lambda: Order.objects.filter(checkout_token=ready_checkout.token).first())
    wait_for(lambda: Order.objects.get(pk=order.pk).charge_status == "full")
    order.refresh_from_db()
    assert order.total_charged_amount == total
    [transaction] = order.payment_transactions.all()
    assert transaction.charged_value == total and transaction.authorized_value == 0
    charges = transaction.events.filter(type="charge_success")
    assert charges.count() == 1 and charges[0].amount_value == total
    # a charge is nothing for staff to capture
    assert order.authorize_status == "full"
