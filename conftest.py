"""Root conftest: with Saleor installed, load Saleor's fixtures (they can only
be registered from the top-level conftest)."""

import importlib.util

SALEOR_AVAILABLE = importlib.util.find_spec("saleor") is not None

if SALEOR_AVAILABLE:
    import django.test
    from django.conf import settings
    from saleor.tests.utils import prepare_test_db_connections

    # as Saleor's own conftest does: tests see both connections
    _DATABASES = {
        settings.DATABASE_CONNECTION_DEFAULT_NAME,
        settings.DATABASE_CONNECTION_REPLICA_NAME,
    }
    django.test.TransactionTestCase.databases = _DATABASES
    django.test.TestCase.databases = _DATABASES
    prepare_test_db_connections()

    _CANDIDATES = [
        # Saleor 3.20
        "saleor.tests.fixtures",
        "saleor.discount.tests.test_utils.fixtures",
        "saleor.plugins.tests.fixtures",
        "saleor.graphql.tests.fixtures",
        "saleor.graphql.channel.tests.fixtures",
        "saleor.graphql.channel.tests.benchmark.fixtures",
        "saleor.graphql.checkout.tests.benchmark.fixtures",
        "saleor.graphql.account.tests.benchmark.fixtures",
        "saleor.graphql.order.tests.benchmark.fixtures",
        "saleor.graphql.giftcard.tests.benchmark.fixtures",
        "saleor.graphql.webhook.tests.benchmark.fixtures",
        "saleor.plugins.webhook.tests.subscription_webhooks.fixtures",
        "saleor.tax.tests.fixtures",
    ]
    # newer Saleor splits the fixture modules: take the ones this version has
    pytest_plugins = [m for m in _CANDIDATES if importlib.util.find_spec(m) is not None]
