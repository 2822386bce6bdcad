"""A payout worker in its own process, on a shared SQLite file (for the
two-process exactly-once test; PostgreSQL runs the threaded one).

    python -m tests.core.payout_worker DB_PATH BASE_URL API_KEY setup N
    python -m tests.core.payout_worker DB_PATH BASE_URL API_KEY run
    python -m tests.core.payout_worker DB_PATH BASE_URL API_KEY report
"""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal

import django
from django.conf import settings

ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def main(db_path: str, base_url: str, key: str, command: str, *args: str) -> None:
    settings.configure(
        SECRET_KEY="worker-tests-only",  # noqa: S106
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.contenttypes", "saleor_cryptopay"],
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": db_path,
                # writers queue up instead of failing: BEGIN IMMEDIATE, 30 s wait
                "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
            }
        },
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from saleor_cryptopay.models import Invoice, RefundRequest
    from saleor_cryptopay.refunds import request as refunds
    from saleor_cryptopay.refunds.payouts import run_payouts
    from tests.core import refund_edition

    if command == "setup":
        call_command("migrate", verbosity=0)
        for i in range(int(args[0])):
            invoice = Invoice.objects.create(
                provider="coinpay24",
                channel_slug="main",
                provider_invoice_id=f"w-{i}",
                amount=Decimal("10.00"),
                currency="USD",
                status="paid",
                pay_amount=Decimal("0.0002"),
                pay_currency="BTC",
                charged_at=timezone.now(),
            )
            refunds.request_refund(invoice.pk, Decimal("1.00"), "USD", address=ADDRESS)
    elif command == "run":
        refund_edition.configure(base_url, key)
        print("ready", flush=True)
        sys.stdin.readline()  # the start signal: both workers go at once
        outcomes = run_payouts(refund_edition.payout_client)
        print(json.dumps([[o.refund_id, o.result] for o in outcomes]))
    elif command == "report":
        print(json.dumps(dict(RefundRequest.objects.values_list("pk", "status"))))


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    main(*sys.argv[1:])
