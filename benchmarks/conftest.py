"""Fixtures for the Saleor-side benchmarks (``benchmarks/bench_saleor_*.py``).

Loaded only when those files are run explicitly (the project's test run
collects ``tests/`` only). Saleor's own fixtures come from the root conftest.
"""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("saleor") is not None:
    from django.conf import settings as django_settings
    from saleor.warehouse.models import Stock

    from saleor_cryptopay.sandbox import SandboxServer
    from tests.saleor.conftest import (  # noqa: F401
        checkout_total,
        configure_gateway,
        crypto_plugins,
    )

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
        bench_sandbox.hold_callbacks(False)

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
        variant, US address, the ``shipping_method`` fixture, made through
        GraphQL as a storefront makes them (the same on every Saleor version).
        Stock is raised so many orders fit."""
        from ._live import make_checkout_factory

        variant = product.variants.first()
        Stock.objects.filter(product_variant=variant).update(quantity=1_000_000)
        return make_checkout_factory(api_client, variant, address, shipping_method)
