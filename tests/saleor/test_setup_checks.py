"""Setup checks inside Saleor: pluginUpdate asks the provider before saving an
active configuration, the callback handler answers the signed probe, and
``manage.py cryptopay_check`` reports per channel."""

import io
import time

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.core.management import CommandError, call_command  # noqa: E402
from saleor.plugins.models import PluginConfiguration  # noqa: E402

from saleor_cryptopay.models import CallbackEvent  # noqa: E402
from saleor_cryptopay.sandbox.faults import Fault  # noqa: E402
from saleor_cryptopay.setup_checks import Level, probe_callback_url  # noqa: E402

from .flow import callback_path, plugin_update, post_form  # noqa: E402

PROVIDERS = ["coinpay24", "coinpay_th"]
FEW_SECONDS = 5


@pytest.fixture
def staff(staff_api_client, permission_manage_plugins):
    staff_api_client.user.user_permissions.add(permission_manage_plugins)
    return staff_api_client


def config(provider, sb, **changes) -> dict:
    if provider == "coinpay24":
        values = {"api_key": sb.coinpay24_api_key, "api_base_url": sb.coinpay24_base}
    else:
        values = {
            "api_key": sb.coinpay_th_key,
            "api_secret": sb.coinpay_th_secret,
            "api_base_url": sb.coinpay_th_base,
        }
    return {**values, **changes}


def stored(plugin, channel):
    row = PluginConfiguration.objects.filter(identifier=plugin.PLUGIN_ID, channel=channel).first()
    values = {item["name"]: item.get("value") for item in (row.configuration if row else [])}
    return row, values


def timed_update(staff, plugin, channel, **values):
    started = time.monotonic()
    errors = plugin_update(staff, plugin.PLUGIN_ID, channel, active=True, **values)
    return errors, time.monotonic() - started


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "wrong", "said"),
    [
        ("coinpay24", {"api_key": "wrong-key-0123456789"}, "invalid api_key"),
        ("coinpay_th", {"api_key": "wrong-key-0123456789"}, "Invalid API key or signature"),
        ("coinpay_th", {"api_secret": "wrong-secret-0123456789"}, "Invalid API key or signature"),
    ],
)
def test_wrong_credentials_are_refused_with_what_the_provider_said(
    provider, wrong, said, crypto_plugins, staff, channel_USD, sb
):
    plugin = crypto_plugins[provider]
    errors, took = timed_update(staff, plugin, channel_USD, **config(provider, sb, **wrong))
    assert took < FEW_SECONDS
    assert [(e["field"], e["code"]) for e in errors] == [("apiKey", "INVALID")]
    message = errors[0]["message"]
    assert said in message and "refused" in message
    secret = next(iter(wrong.values()))
    assert secret not in message and sb.coinpay_th_secret not in message
    row, _ = stored(plugin, channel_USD)
    assert row is None or not row.active


@pytest.mark.django_db
def test_a_base_url_that_is_not_the_api_is_refused(crypto_plugins, staff, channel_USD, sb):
    plugin = crypto_plugins["coinpay24"]
    errors, _ = timed_update(
        staff, plugin, channel_USD, **config("coinpay24", sb, api_base_url=sb.url)
    )
    assert [(e["field"], e["code"]) for e in errors] == [("apiBaseUrl", "INVALID")]
    assert "is not the CoinPay24 API" in errors[0]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_down_saves_with_a_warning(provider, crypto_plugins, staff, channel_USD, sb):
    plugin = crypto_plugins[provider]
    sb.faults.add(Fault(provider, "status", status=503))
    errors, took = timed_update(staff, plugin, channel_USD, **config(provider, sb))
    assert errors == [] and took < FEW_SECONDS
    row, values = stored(plugin, channel_USD)
    assert row.active
    assert "WARNING api_base_url" in values["setup_status"] and "HTTP 503" in values["setup_status"]


@pytest.mark.django_db
def test_provider_unreachable_saves_with_a_warning(crypto_plugins, staff, channel_USD, sb):
    plugin = crypto_plugins["coinpay24"]
    closed = "http://127.0.0.1:9/coinpay24/v1"
    errors, took = timed_update(
        staff, plugin, channel_USD, **config("coinpay24", sb, api_base_url=closed)
    )
    assert errors == [] and took < FEW_SECONDS
    _, values = stored(plugin, channel_USD)
    assert "unreachable" in values["setup_status"]


@pytest.mark.django_db
def test_right_credentials_save_and_report_the_callback_url(crypto_plugins, staff, channel_USD, sb):
    plugin = crypto_plugins["coinpay24"]
    errors, _ = timed_update(staff, plugin, channel_USD, **config("coinpay24", sb))
    assert errors == []  # the callback URL (loopback in these tests) never refuses a save
    _, values = stored(plugin, channel_USD)
    status = values["setup_status"]
    assert "OK api_key: CoinPay24 accepted the API key" in status
    assert "ERROR callback_url: 127.0.0.1 is a loopback address" in status
    assert sb.coinpay24_api_key not in status


@pytest.mark.django_db
def test_a_merchant_cannot_write_the_status(crypto_plugins, staff, channel_USD, sb):
    plugin = crypto_plugins["coinpay24"]
    values = config("coinpay24", sb, setup_status="all fine, trust me")
    assert plugin_update(staff, plugin.PLUGIN_ID, channel_USD, active=False, **values) == []
    _, saved = stored(plugin, channel_USD)
    assert saved.get("setup_status") != "all fine, trust me"


# -- the probe and the command, over real HTTP to Saleor's live server ---------


@pytest.fixture
def live_gateway(configure_gateway, live_callbacks):
    return configure_gateway


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_live_callback_url_answers_the_probe_without_storing_it(
    provider, live_gateway, live_server
):
    plugin = live_gateway(provider)
    url = live_server.url + callback_path(plugin.PLUGIN_ID)
    [found] = probe_callback_url(url)
    assert (found.level, found.message) == (Level.OK, f"{url} reaches this plugin.")
    assert CallbackEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_probe_for_an_inactive_gateway_gets_saleors_404(live_gateway, live_server):
    plugin = live_gateway("coinpay24", active=False)
    url = live_server.url + callback_path(plugin.PLUGIN_ID)
    assert probe_callback_url(url)[0].level is Level.ERROR
    assert probe_callback_url(url, pending_activation=True)[0].level is Level.WARNING


@pytest.mark.django_db
def test_a_forged_probe_is_handled_like_any_unsigned_callback(configure_gateway, client):
    plugin = configure_gateway("coinpay24")
    junk = post_form(client, plugin.PLUGIN_ID, [("foo", "1")])
    forged = post_form(client, plugin.PLUGIN_ID, [("cryptopay_probe", "1.abc.def")])
    assert (forged.status_code, forged.content) == (junk.status_code, junk.content)
    assert CallbackEvent.objects.count() == 2  # both stored, neither answered as a probe


@pytest.mark.django_db(transaction=True)
def test_cryptopay_check_reports_each_channel_and_fails_on_errors(live_gateway, sb):
    live_gateway("coinpay24")
    live_gateway("coinpay_th", api_secret="wrong-secret-0123456789")
    stdout = io.StringIO()
    with pytest.raises(CommandError, match="problem"):
        call_command("cryptopay_check", stdout=stdout)
    out = stdout.getvalue()
    assert "coinpay24 @ main" in out and "coinpay_th @ main" in out
    assert "OK api_key: CoinPay24 accepted" in out
    assert "ERROR api_key: CoinPay.in.th refused the API key or secret" in out
    assert "reaches this plugin" in out  # the probe went through the live server
    assert "a loopback address" in out  # and still: the provider cannot call it
    assert "wrong-secret-0123456789" not in out


@pytest.mark.django_db
def test_cryptopay_check_filters_by_provider(configure_gateway, sb, settings, site_settings):
    configure_gateway("coinpay24")
    configure_gateway("coinpay_th")
    settings.PUBLIC_URL = None  # Saleor falls back to the Site domain
    site_settings.site.domain = "127.0.0.1:9"
    site_settings.site.save()
    stdout = io.StringIO()
    with pytest.raises(CommandError):  # the callback URL is not public
        # the README's options, as typed
        call_command(
            "cryptopay_check", "--channel", "main", "--provider", "coinpay_th", stdout=stdout
        )
    out = stdout.getvalue()
    assert "coinpay_th @ main" in out and "coinpay24" not in out
    assert "WARNING PUBLIC_URL: PUBLIC_URL is not set" in out
    other = io.StringIO()
    call_command("cryptopay_check", "--channel", "other", stdout=other)
    assert other.getvalue() == "No active crypto gateway configuration.\n"
