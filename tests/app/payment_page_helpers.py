"""Start a payment through the App (a signed TRANSACTION_INITIALIZE_SESSION
against the sandbox) and find its payment page."""

from __future__ import annotations

import time

from saleor_cryptopay.models import Invoice

from .fake_saleor import gid, initialize_payload, source

INIT = "TRANSACTION_INITIALIZE_SESSION"


def start_payment(hook, provider: str = "coinpay_th", return_url: str = "") -> tuple[dict, Invoice]:
    """The answer's ``data`` (the storefront contract) and our invoice."""
    txn = gid("TransactionItem")
    data = {"provider": provider, **({"returnUrl": return_url} if return_url else {})}
    payload = initialize_payload(transaction_id=txn, provider=provider, source=source(), data=data)
    response = hook(INIT, payload)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["result"] == "CHARGE_ACTION_REQUIRED", answer
    return answer["data"], Invoice.objects.get(transaction_id=txn)


def wait_for(predicate, timeout: float = 30.0, step: float = 0.1):
    """Poll until ``predicate()`` is truthy (its value), or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(step)
