"""Fixtures for the Saleor-side tests (loaded only where Saleor is installed)."""

import importlib.util

import pytest

if importlib.util.find_spec("saleor") is not None:
    from decimal import Decimal

    from saleor.checkout.fetch import fetch_checkout_info, fetch_checkout_lines
    from saleor.plugins.manager import get_plugins_manager
    from saleor.plugins.models import PluginConfiguration

    from saleor_cryptopay.plugin.coinpay24 import CoinPay24Plugin
    from saleor_cryptopay.plugin.coinpay_th import CoinPayThPlugin
    from saleor_cryptopay.plugin.compat import checkout_total as compat_checkout_total
    from saleor_cryptopay.sandbox import SandboxServer

    from .flow import set_delivery

    PLUGINS = {"coinpay24": CoinPay24Plugin, "coinpay_th": CoinPayThPlugin}

    @pytest.fixture(scope="session")
    def sandbox_server():
        with SandboxServer(port=0, time_scale=0.0005) as server:
            yield server

    @pytest.fixture
    def sb(sandbox_server):
        sandbox_server.reset()
        yield sandbox_server
        sandbox_server.clear_faults()

    @pytest.fixture
    def crypto_plugins(settings):
        """Both crypto gateways installed (no configuration saved yet)."""
        # callback URLs on a closed loopback port: the sandbox's own delivery
        # attempts fail fast and stay on this machine (tests deliver them)
        settings.PUBLIC_URL = "http://127.0.0.1:9/"
        settings.PLUGINS = [
            "tests.saleor.card_gateway.CardGatewayPlugin",
            "saleor_cryptopay.plugin.coinpay24.CoinPay24Plugin",
            "saleor_cryptopay.plugin.coinpay_th.CoinPayThPlugin",
        ]
        return PLUGINS

    @pytest.fixture
    def configure_gateway(crypto_plugins, channel_USD, sb):
        """Install and configure a crypto gateway for channel_USD (slug "main"),
        pointed at the sandbox. Returns the plugin class. ``channel=`` configures
        another channel instead."""

        def configure(provider, *, active=True, channel=None, **values):
            plugin = PLUGINS[provider]
            base = sb.coinpay24_base if provider == "coinpay24" else sb.coinpay_th_base
            config = {
                "api_base_url": base,
                "supported_currencies": "USD",
            }
            if provider == "coinpay24":
                config["api_key"] = sb.coinpay24_api_key
            else:
                config["api_key"] = sb.coinpay_th_key
                config["api_secret"] = sb.coinpay_th_secret
            config.update(values)
            PluginConfiguration.objects.update_or_create(
                identifier=plugin.PLUGIN_ID,
                channel=channel or channel_USD,
                defaults={
                    "name": plugin.PLUGIN_NAME,
                    "active": active,
                    "configuration": [{"name": k, "value": v} for k, v in config.items()],
                },
            )
            return plugin

        return configure

    @pytest.fixture
    def live_callbacks(crypto_plugins, live_server, settings):
        """The plugin's callback URLs point at pytest-django's live server, and
        its request threads see the test database through the replica alias
        too (the test mirror is set on the main thread's connection only, so
        other threads would open the real, empty "replica" database).
        Use with ``django_db(transaction=True)``."""
        from django.db import connections

        replica = connections.settings[settings.DATABASE_CONNECTION_REPLICA_NAME]
        default = connections[settings.DATABASE_CONNECTION_DEFAULT_NAME].settings_dict
        saved = replica["NAME"]
        replica["NAME"] = default["NAME"]
        settings.PUBLIC_URL = live_server.url + "/"
        yield live_server
        replica["NAME"] = saved

    @pytest.fixture
    def ready_checkout(checkout_with_item, address, shipping_method, api_client):
        checkout = checkout_with_item
        checkout.billing_address = address
        checkout.shipping_address = address
        checkout.email = "shopper@example.com"
        checkout.save()
        # as a storefront does: the delivery model differs between versions
        # (3.23 keeps it in ``assigned_delivery``), the mutation does not
        set_delivery(api_client, checkout, shipping_method)
        checkout.refresh_from_db()
        return checkout

    @pytest.fixture
    def checkout_total():
        def total(checkout) -> Decimal:
            manager = get_plugins_manager(allow_replica=False)
            lines, _ = fetch_checkout_lines(checkout)
            info = fetch_checkout_info(checkout, lines, manager)
            return compat_checkout_total(manager, info, lines, checkout).gross.amount

        return total
