"""Settings for the Saleor-side benchmarks: the test settings, on a test
database of their own (``test_saleor_bench``).

Benchmark 4 uses a live server, so its rows are really committed and the
tables are truncated afterwards; on the shared ``test_saleor`` database that
would collide with (and block) the tests other people run at the same time.
The first run builds this database with Saleor's migrations (a few minutes);
later runs reuse it (``--reuse-db``).
"""

from tests.settings import *  # noqa: F403

DATABASES["default"]["TEST"] = {**DATABASES["default"].get("TEST", {}), "NAME": "test_saleor_bench"}  # noqa: F405
