"""Root conftest: with Saleor installed, load Saleor's fixtures (they can only
be registered from the top-level conftest)."""

import ast
import importlib.util
import os
from pathlib import Path

import pytest

SALEOR_AVAILABLE = importlib.util.find_spec("saleor") is not None

# Saleor 3.20's list; later versions split the fixture modules per app
# (3.21, #16054 era) and name them in their own root conftest, read below.
_FALLBACK = [
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


def saleor_fixture_modules() -> list[str]:
    """The ``pytest_plugins`` of the installed Saleor's own root conftest (the
    source tree it runs from), so each version brings exactly its fixtures;
    the 3.20 list where that file cannot be read."""
    spec = importlib.util.find_spec("saleor")
    origin = Path(spec.origin).resolve() if spec and spec.origin else None
    conftest = origin.parent.parent / "conftest.py" if origin else None
    names: list[str] = []
    if conftest and conftest.is_file():
        for node in ast.parse(conftest.read_text()).body:
            if (
                isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "pytest_plugins" for t in node.targets)
                and isinstance(node.value, (ast.List, ast.Tuple))
            ):
                names = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
    names = names or _FALLBACK
    return [m for m in names if importlib.util.find_spec(m) is not None]


def saleor_run_requested(args: list[str]) -> bool:
    """The Saleor-side suite was asked for: ``CRYPTOPAY_REQUIRE_SALEOR=1`` or a
    ``tests/saleor`` path on the command line."""
    if os.environ.get("CRYPTOPAY_REQUIRE_SALEOR", "").strip() not in ("", "0"):
        return True
    return any(Path(a.split("::")[0]).resolve().is_relative_to(_SALEOR_TESTS) for a in args)


_SALEOR_TESTS = Path(__file__).resolve().parent / "tests" / "saleor"


def pytest_configure(config: pytest.Config) -> None:
    # a Saleor-side run without Saleor would skip every test and look green
    if not SALEOR_AVAILABLE and saleor_run_requested(list(config.args)):
        raise pytest.UsageError(
            "the Saleor-side tests were asked for, but Saleor cannot be imported: install "
            "the Saleor tree into this virtualenv (pip install -e /path/to/saleor) or put it "
            "on PYTHONPATH, with Saleor's dev dependencies (see README, Testing against Saleor)"
        )


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

    pytest_plugins = saleor_fixture_modules()
