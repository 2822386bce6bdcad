"""Fixtures for the Saleor-side benchmarks (``benchmarks/bench_saleor_*.py``).

Loaded only when those files are run explicitly (the project's test run
collects ``tests/`` only). Saleor's own fixtures come from the root conftest.
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("saleor") is not None:
    from django.conf import settings as django_settings
    from django.utils import timezone
    from saleor.checkout.fetch import fetch_checkout_info
    from saleor.checkout.models import Checkout, CheckoutMetadata
    from saleor.checkout.utils import add_variant_to_checkout
    from saleor.plugins.manager import get_plugins_manager
    from saleor.warehouse.models import Stock

    from saleor_cryptopay.sandbox import SandboxServer
    from tests.saleor.conftest import (  # noqa: F401
        checkout_total,
        configure_gateway,
        crypto_plugins,
    )

    # the test suite's gateway fixtures, used with this module's own ``sb``
    from tests.saleor.flow import set_delivery

    @pytest.fixture(scope="session")
    def bench_sandbox():
        # time_scale 1: the sandbox's own (failing) delivery retries stay a minute
        # apart instead of spinning in the background while we measure
        with SandboxServer(port=0, time_scale=1.0) as server:
            yield server

    @pytest.fixture
    def sb(bench_sandbox):
        # no reset between scenarios: ids restart after a reset and would meet
        # invoices kept in the database; figures are taken as count deltas
        yield bench_sandbox
        bench_sandbox.clear_faults()

    @pytest.fixture
    def replica_on_test_db():
        """Point *new* connections of the replica alias at the test database.

        The test settings make ``replica`` a TEST MIRROR of ``default``; Django
        applies a mirror to the connection objects of the thread that set the
        databases up only. Threads started later (the live server's request
        threads) build their replica connection from the settings, which
        still name the non-test database ``saleor``: their reads would go there
        (seen: ``relation "django_site" does not exist``)."""
        from django.db import connections

        replica = connections.settings[django_settings.DATABASE_CONNECTION_REPLICA_NAME]
        default = connections[django_settings.DATABASE_CONNECTION_DEFAULT_NAME]
        old = replica["NAME"]
        replica["NAME"] = default.settings_dict["NAME"]
        yield replica["NAME"]
        replica["NAME"] = old

    @pytest.fixture
    def make_checkout(channel_USD, product, address, shipping_method, api_client):
        """A factory of identical checkouts: 3 × the ``product`` fixture's
        variant, US address, the ``shipping_method`` fixture (the shape of the
        project's Saleor tests). Stock is raised so many orders fit."""
        variant = product.variants.first()
        Stock.objects.filter(product_variant=variant).update(quantity=1_000_000)

        def make() -> Checkout:
            checkout = Checkout.objects.create(
                currency=channel_USD.currency_code,
                channel=channel_USD,
                price_expiration=timezone.now() + django_settings.CHECKOUT_PRICES_TTL,
                email="shopper@example.com",
            )
            checkout.set_country("US", commit=True)
            CheckoutMetadata.objects.create(checkout=checkout)
            info = fetch_checkout_info(checkout, [], get_plugins_manager(allow_replica=False))
            add_variant_to_checkout(info, variant, 3)
            checkout.billing_address = address.get_copy()
            checkout.shipping_address = address.get_copy()
            checkout.save()
            set_delivery(api_client, checkout, shipping_method)
            checkout.refresh_from_db()
            return checkout

        return make
