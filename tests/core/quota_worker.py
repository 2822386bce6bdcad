"""A separate process drawing on the shared quota (tests/core/test_quota.py).

    python -m tests.core.quota_worker DB migrate
    python -m tests.core.quota_worker DB calls BASE_URL KEY PRIORITY N WINDOWS_JSON

Prints one JSON line: calls answered, refused by our quota, refused by the
provider (429), and the codes seen.
"""

from __future__ import annotations

import json
import sys

import django
from django.conf import settings


def setup(db: str) -> None:
    settings.configure(
        SECRET_KEY="quota-worker",  # noqa: S106
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.contenttypes", "saleor_cryptopay"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": db,
                "OPTIONS": {"timeout": 20},
            }
        },
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def calls(base_url: str, key: str, priority: str, n: int, windows: list[dict]) -> dict:
    from saleor_cryptopay.providers.coinpay24 import CoinPay24Client
    from saleor_cryptopay.providers.errors import ProviderError
    from saleor_cryptopay.providers.quota import Window
    from saleor_cryptopay.quota import DatabaseBudget

    client = CoinPay24Client(key, base_url=base_url, timeout=(5, 5))
    client.http.quota = DatabaseBudget(
        "coinpay24", key, windows=[Window(**w) for w in windows], max_wait=0
    )
    client.http.priority = priority
    out = {"ok": 0, "quota": 0, "rate_limited": 0, "http_429": 0}
    for _ in range(n):
        try:
            client.list_invoices(per_page=1)
            out["ok"] += 1
        except ProviderError as exc:
            if exc.status_code == 429:
                out["http_429"] += 1
            else:
                out[exc.code or "other"] = out.get(exc.code or "other", 0) + 1
    return out


def main(argv: list[str]) -> None:
    setup(argv[0])
    if argv[1] == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(json.dumps({"migrated": True}))
        return
    base_url, key, priority, n, windows = argv[2:7]
    print(json.dumps(calls(base_url, key, priority, int(n), json.loads(windows))))


if __name__ == "__main__":
    main(sys.argv[1:])
