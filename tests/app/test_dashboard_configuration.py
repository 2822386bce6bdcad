"""The configuration page in the Dashboard's iframe: both providers set up in
the form against the sandbox (the same validation and credential check as
``cryptopay-app configure``), secrets never sent back, then a checkout paid."""

from __future__ import annotations

import pytest
from selenium.webdriver.support.select import Select

from saleor_cryptopay.app.models import ChannelConfiguration

from ..browser import needs_chromium
from .dashboard_browser import in_dashboard, loaded, open_page, shown_text, wait_for
from .test_payment_flow import start

pytestmark = needs_chromium


def fill(driver, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = driver.find_element("css selector", f"[name='{name}']")
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)


def save(driver) -> None:
    driver.find_element("css selector", "button[name='save']").click()


@pytest.fixture
def settings_page(installed, app, saleor, sb, settings):
    settings.CRYPTOPAY_EDITION = "saleor_cryptopay.app.refunds"
    with in_dashboard(app, saleor, saleor.staff_token()) as driver:
        loaded(driver, "home")
        open_page(driver, "configuration")
        yield driver


def test_both_providers_configured_in_the_page_then_a_checkout_is_paid(
    settings_page, sb, hook, saleor
):
    driver = settings_page
    fill(
        driver,
        {
            "channel": "main",
            "provider": "coinpay24",
            "coinpay24.api_key": sb.coinpay24_api_key,
            "coinpay24.api_base_url": sb.coinpay24_base,
            "refund.icoinpay_api_key": sb.icoinpay_api_key,
            "refund.icoinpay_api_base_url": sb.icoinpay_base,
        },
    )
    save(driver)
    shown_text(driver, "Saved CoinPay24 in channel main; credentials checked with the provider")
    config = ChannelConfiguration.objects.get(provider="coinpay24")
    # the callback URL to copy, and no secret sent back to the browser
    assert config.callback_url in driver.page_source
    assert sb.coinpay24_api_key not in driver.page_source
    assert sb.icoinpay_api_key not in driver.page_source
    fill(
        driver,
        {
            "channel": "main",
            "provider": "coinpay_th",
            "coinpay_th.api_key": sb.coinpay_th_key,
            "coinpay_th.api_secret": sb.coinpay_th_secret,
            "coinpay_th.api_base_url": sb.coinpay_th_base,
        },
    )
    save(driver)
    shown_text(driver, "Saved CoinPay.in.th in channel main")
    assert sb.coinpay_th_secret not in driver.page_source
    assert config.settings.values["icoinpay_api_key"] == sb.icoinpay_api_key

    # a checkout paid with what the page saved
    _, answer = start(hook, provider="coinpay_th")
    sb.act("coinpay_th", answer["pspReference"], "pay")
    wait_for(lambda: saleor.completions(), "the order")


def test_a_refused_key_is_shown_beside_the_field_and_nothing_is_saved(settings_page, sb):
    driver = settings_page
    fill(
        driver,
        {
            "channel": "main",
            "coinpay24.api_key": "not-the-key",
            "coinpay24.api_base_url": sb.coinpay24_base,
        },
    )
    save(driver)
    shown_text(driver, "Not saved: the provider refused the credentials")
    assert driver.find_elements("css selector", "[data-error='api_key']")
    assert not ChannelConfiguration.objects.exists()
    fill(driver, {"coinpay24.underpaid_tolerance_percent": "50"})
    save(driver)
    wait_for(
        lambda: driver.find_elements("css selector", "[data-error='underpaid_tolerance_percent']"),
        "the tolerance error",
    )


def test_edit_keeps_secrets_checks_and_deactivates(settings_page, sb, configure):
    driver = settings_page
    config = configure("coinpay24")
    open_page(driver, "configuration")
    driver.find_element("css selector", f"a[data-query='config={config.pk}']").click()
    wait_for(lambda: "Edit CoinPay24 in channel main" in driver.page_source, "the edit form")
    field = driver.find_element("css selector", "[name='coinpay24.api_key']")
    assert field.get_attribute("value") == ""  # write-only
    assert "leave blank to keep it" in field.get_attribute("placeholder")
    fill(driver, {"coinpay24.supported_currencies": "USD,EUR"})
    save(driver)
    shown_text(driver, "Saved CoinPay24 in channel main")
    config.refresh_from_db()
    assert config.settings.supported_currencies == ["USD", "EUR"]
    assert config.settings.values["api_key"] == sb.coinpay24_api_key  # blank kept it

    row = f"tr[data-config='{config.pk}']"
    driver.find_element(
        "css selector", f"{row} form[data-action='configuration-check'] button"
    ).click()
    wait_for(lambda: driver.find_elements("css selector", "[data-findings]"), "the findings")
    driver.find_element(
        "css selector", f"{row} form[data-action='configuration-deactivate'] button"
    ).click()
    shown_text(driver, "no longer offered in channel main")
    config.refresh_from_db()
    assert not config.active
    driver.find_element(
        "css selector", f"{row} form[data-action='configuration-activate'] button"
    ).click()
    shown_text(driver, "is now offered in channel main")
    config.refresh_from_db()
    assert config.active
