# ruff: noqa: E402, F811 (imports after the Saleor check; app_process is a fixture)
"""The App's Dashboard pages against a real Saleor: the harness Dashboard
frames the App with the token Saleor itself issues (``app(id){accessToken}``
as a staff user), staff configure the channel in the page, a checkout is paid,
the order extension shows it, a refund asked in Saleor appears with its claim
link, and on 3.22.36+ a refused wallet key is an App Problem in Saleor,
dismissed once fixed."""

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor environment")

from django.db import connection
from saleor import __version__ as SALEOR_VERSION
from saleor.account.models import Group
from saleor.app.models import App
from saleor.graphql.core.utils import to_global_id_or_none
from saleor.order.models import Order
from selenium.webdriver.support.select import Select

from tests.app.dashboard_browser import (
    in_dashboard,
    loaded,
    open_page,
    shown_text,
)
from tests.app.dashboard_browser import wait_for as wait_in_page
from tests.browser import needs_chromium

from .test_app_live import (
    APP_INSTALL,
    BTC,
    REFUND_ACTION,
    TXN_INIT,
    app_process,  # noqa: F401
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, needs_chromium]

ACCESS_TOKEN = "query($id: ID!) { app(id: $id) { accessToken } }"
PROBLEMS = tuple(int(p) for p in SALEOR_VERSION.split(".")[:3]) >= (3, 22, 36)


def fill(driver, values: dict) -> None:
    for name, value in values.items():
        field = driver.find_element("css selector", f"[name='{name}']")
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)


def set_check(driver, on: bool) -> None:
    box = driver.find_element("css selector", "[name='check']")
    if box.is_selected() != on:
        box.click()


def click(driver, selector: str) -> None:
    driver.find_element("css selector", selector).click()


def problems(app: App) -> list:
    from saleor.app.models import AppProblem

    return list(AppProblem.objects.filter(app=app).order_by("pk"))


def test_dashboard_pages_on_a_real_saleor(
    live_callbacks,
    app_process,
    staff_api_client,
    permission_manage_apps,
    permission_manage_payments,
    permission_manage_orders,
    api_client,
    ready_checkout,
    checkout_total,
    sb,
    settings,
):
    app_url, cli = app_process
    settings.PLUGINS = [*settings.PLUGINS, "saleor.plugins.webhook.plugin.WebhookPlugin"]
    saleor_api = live_callbacks.url + "/graphql/"
    group = Group.objects.create(name="crypto staff", restricted_access_to_channels=False)
    group.permissions.add(
        permission_manage_apps, permission_manage_payments, permission_manage_orders
    )
    group.user_set.add(staff_api_client.user)
    content = staff_api_client.post_graphql(APP_INSTALL, {"url": f"{app_url}/api/manifest"})
    assert not content.json()["data"]["appInstall"]["errors"]
    app = App.objects.get(identifier="saleor.cryptopay")
    [extension] = app.extensions.all()
    expected = "order_details_widgets" if PROBLEMS else "order_details_more_actions"
    assert extension.mount.lower() == expected
    token = staff_api_client.post_graphql(ACCESS_TOKEN, {"id": to_global_id_or_none(app)}).json()
    token = token["data"]["app"]["accessToken"]
    assert token

    class SaleorRef:  # what the harness needs of a Saleor
        api_url = saleor_api

    with in_dashboard(app_url, SaleorRef, token) as driver:
        loaded(driver, "home")
        open_page(driver, "configuration")
        fill(driver, {
            "channel": "main", "provider": "coinpay_th",
            "coinpay_th.api_key": sb.coinpay_th_key, "coinpay_th.api_secret": sb.coinpay_th_secret,
            "coinpay_th.api_base_url": sb.coinpay_th_base,
            "refund.icoinpay_api_key": sb.icoinpay_api_key,
            "refund.icoinpay_api_base_url": sb.icoinpay_base,
        })  # fmt: skip
        click(driver, "button[name='save']")
        shown_text(driver, "Saved CoinPay.in.th in channel main; credentials checked")
        assert sb.coinpay_th_secret not in driver.page_source

    # a checkout paid with what the page saved
    total = checkout_total(ready_checkout)
    data = api_client.post_graphql(
        TXN_INIT, {"id": to_global_id_or_none(ready_checkout), "data": {"provider": "coinpay_th"}}
    )
    init = data.json()["data"]["transactionInitialize"]
    assert not init["errors"], init["errors"]
    psp = init["transaction"]["pspReference"]
    sb.act("coinpay_th", psp, "pay")
    order = wait_for(lambda: Order.objects.filter(checkout_token=ready_checkout.token).first())
    wait_for(lambda: Order.objects.get(pk=order.pk).charge_status == "full")

    # the order extension shows it
    order_id = to_global_id_or_none(order)
    with in_dashboard(app_url, SaleorRef, token, path="/dashboard/order", orderId=order_id) as d:
        text = loaded(d, "order")
        assert f"invoice {psp}: paid" in text and "to Saleor: CHARGE_SUCCESS" in text

    # a refund asked in Saleor appears in Operations with its claim link
    part = (total / 2).quantize(total)
    content = staff_api_client.post_graphql(
        REFUND_ACTION, {"id": init["transaction"]["id"], "amount": str(part)}
    )
    assert not content.json()["data"]["transactionRequestAction"]["errors"]
    with in_dashboard(app_url, SaleorRef, token) as driver:
        loaded(driver, "home")
        text = open_page(driver, "operations")
        assert "awaiting_address" in text
        link = driver.find_element("css selector", "tr[data-refund='1'] [data-copy]")
        assert link.get_attribute("data-copy").startswith(f"{app_url}/api/claim/")

        # the address given in the page (checked with the wallet's provider)
        driver.find_element("css selector", "tr[data-refund='1'] [name='address']").send_keys(BTC)
        click(driver, "tr[data-refund='1'] form[data-action='refund-address'] button")
        shown_text(driver, f"Refund #1 queued to {BTC}")
        # the wallet key revoked: the payout is refused
        open_page(driver, "configuration")
        click(driver, "a[data-query='config=1']")
        wait_in_page(lambda: "Edit CoinPay.in.th" in driver.page_source, "the edit form")
        fill(driver, {"refund.icoinpay_api_key": "revoked-key"})
        set_check(driver, False)
        click(driver, "button[name='save']")
        shown_text(driver, "Saved CoinPay.in.th in channel main")
        assert "refund #1: refused" in cli("payouts").stdout
        if PROBLEMS:
            [problem] = wait_for(lambda: problems(app))
            assert "Refund #1" in problem.message and not problem.dismissed

        # fixed in the page, retried from the page: sent, the problem dismissed
        open_page(driver, "configuration")
        click(driver, "a[data-query='config=1']")
        wait_in_page(lambda: "Edit CoinPay.in.th" in driver.page_source, "the edit form")
        fill(driver, {"refund.icoinpay_api_key": sb.icoinpay_api_key})
        set_check(driver, True)
        click(driver, "button[name='save']")
        shown_text(driver, "credentials checked")
        open_page(driver, "operations")
        click(driver, "tr[data-refund='1'] form[data-action='refund-retry'] button")
        shown_text(driver, "Refund #1 queued again.")
    assert "refund #1: sent" in cli("payouts").stdout
    [transaction] = order.payment_transactions.filter(charged_value__gt=0)
    wait_for(lambda: transaction.events.filter(type="refund_success").exists())
    if PROBLEMS:
        wait_for(lambda: all(p.dismissed for p in problems(app)))
    connection.close()
