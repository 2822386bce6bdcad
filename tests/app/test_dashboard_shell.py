"""The App inside the Saleor Dashboard: the iframe handshake and who may do
what. Real HTTP, real RS256 tokens signed by the fake Saleor's key, real
Chromium framing ``appUrl`` from another origin."""

from __future__ import annotations

import requests

from tests.browser import needs_chromium

from .dashboard_browser import harness_received, in_dashboard, loaded, wait_for
from .fake_saleor import FakeSaleor, SigningKey


def _get(app, saleor, token=None, page="home", **headers):
    sent = {"Saleor-Api-Url": saleor.api_url, **headers}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return requests.get(f"{app}/dashboard/page/{page}", headers=sent, timeout=10)


@needs_chromium
def test_dashboard_handshake_loads_the_page_with_the_staff_token(installed, app, saleor):
    token = saleor.staff_token(email="ops@shop.example")
    with in_dashboard(app, saleor, token, theme="light") as driver:
        text = loaded(driver, "home")
        assert "ops@shop.example" in text
        assert "✔ configure channels" in text and "✔ act on tasks" in text
        # the Dashboard's theme: light from the URL, dark once the Dashboard says so
        assert driver.execute_script("return document.documentElement.dataset.theme") == "light"
        driver.switch_to.parent_frame()
        driver.execute_script("window.setTheme('dark')")
        driver.switch_to.frame(driver.find_element("id", "app"))
        wait_for(
            lambda: (
                driver.execute_script("return document.documentElement.dataset.theme") == "dark"
            ),
            "the dark theme",
        )
        received = harness_received(driver)
    assert received[0]["type"] == "notifyReady" and received[0]["payload"]["actionId"]


@needs_chromium
def test_dashboard_page_without_the_permission_says_which(installed, app, saleor):
    token = saleor.staff_token(permissions=("MANAGE_ORDERS",))
    with in_dashboard(app, saleor, token) as driver:
        text = loaded(driver, "home")
        assert "✘ configure channels" in text
        driver.find_element("css selector", "nav a[data-page='configuration']").click()
        wait_for(lambda: "needs the MANAGE_APPS permission" in driver.page_source, "refusal")


def test_app_url_outside_the_dashboard_says_to_open_it_there(app):
    response = requests.get(f"{app}/", timeout=10)
    assert response.status_code == 200
    assert "Open CryptoPay from the Saleor Dashboard" in response.text


@needs_chromium
def test_app_url_with_dashboard_parameters_but_not_framed(installed, app, saleor):
    from tests.browser import browser

    with browser(javascript=True) as driver:
        driver.get(f"{app}/?saleorApiUrl={saleor.api_url}&id=x&theme=light")
        wait_for(lambda: "Open CryptoPay from the Saleor Dashboard" in driver.page_source, "text")


def test_valid_token_is_accepted(installed, app, saleor):
    response = _get(app, saleor, saleor.staff_token())
    assert response.status_code == 200, response.text
    assert "staff@example.com" in response.text


def test_no_token_is_refused(installed, app, saleor):
    response = _get(app, saleor)
    assert response.status_code == 401
    assert "open CryptoPay from the Saleor Dashboard" in response.text


def test_expired_token_is_refused(installed, app, saleor):
    response = _get(app, saleor, saleor.staff_token(expires_in=-60))
    assert response.status_code == 401
    assert "expired" in response.text


def test_token_from_another_saleor_is_refused(installed, app, saleor):
    other = FakeSaleor().start()
    try:
        # signed by the other Saleor's key, naming it as issuer
        response = _get(app, saleor, other.staff_token())
        assert response.status_code == 401
        # our Saleor's key, but issued for the other one
        response = _get(app, saleor, saleor.staff_token(issuer=other.api_url))
        assert response.status_code == 401 and "another Saleor" in response.text
        # the other Saleor never installed the App
        response = requests.get(
            f"{app}/dashboard/page/home",
            headers={
                "Saleor-Api-Url": other.api_url,
                "Authorization": f"Bearer {other.staff_token()}",
            },
            timeout=10,
        )
        assert response.status_code == 403
    finally:
        other.stop()


def test_token_signed_with_an_unpublished_key_is_refused(installed, app, saleor):
    forged = SigningKey(saleor.key.kid)  # same key id, another key
    response = _get(app, saleor, saleor.staff_token(key=forged))
    assert response.status_code == 401


def test_another_apps_token_is_refused(installed, app, saleor):
    response = _get(app, saleor, saleor.staff_token(app="QXBwOjQz"))
    assert response.status_code == 401
    assert "another app" in response.text


def test_staff_without_the_permission_is_refused(installed, app, saleor):
    token = saleor.staff_token(permissions=("MANAGE_ORDERS",))
    response = _get(app, saleor, token, page="configuration")
    assert response.status_code == 403
    assert "MANAGE_APPS" in response.text
    token = saleor.staff_token(permissions=("MANAGE_APPS",))
    response = _get(app, saleor, token, page="operations")
    assert response.status_code == 403
    assert "MANAGE_ORDERS" in response.text


def test_cross_site_post_is_refused_even_with_a_token(installed, app, saleor):
    headers = {
        "Saleor-Api-Url": saleor.api_url,
        "Authorization": f"Bearer {saleor.staff_token()}",
    }
    url = f"{app}/dashboard/action/save-configuration"
    response = requests.post(
        url,
        data={"channel": "main"},
        headers={**headers, "Origin": "http://evil.example"},
        timeout=10,
    )
    assert response.status_code == 403 and "Cross-site" in response.text
    response = requests.post(
        url,
        data={"channel": "main"},
        headers={**headers, "Sec-Fetch-Site": "cross-site"},
        timeout=10,
    )
    assert response.status_code == 403
    # a form on another site cannot add the header: no token, nothing done
    response = requests.post(url, data={"channel": "main"}, timeout=10)
    assert response.status_code in (401, 403)


def test_rotated_saleor_key_is_fetched_once(installed, app, saleor):
    new = SigningKey("saleor-key-2")
    saleor.published = [saleor.key, new]
    from saleor_cryptopay.app.models import Installation

    Installation.objects.filter(pk=installed.pk).update(jwks_fetched_at=None)
    response = _get(app, saleor, saleor.staff_token(key=new))
    assert response.status_code == 200, response.text
