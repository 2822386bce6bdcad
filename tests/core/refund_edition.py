"""A minimal edition for the Saleor-free tests: payouts go to the sandbox and
"recording" a sent refund only marks it (the Saleor plugin's own recorder is
tested on the Saleor side)."""

from __future__ import annotations

from saleor_cryptopay.providers.icoinpay import ICoinPayClient
from saleor_cryptopay.refunds.editions import mark_recorded
from saleor_cryptopay.refunds.request import claim_token

STATE: dict = {}


def configure(base_url, key) -> None:
    STATE.clear()
    STATE.update(base_url=base_url, key=key, recorded=[], problems=[])


def payout_client(refund):
    if not STATE.get("key"):
        return None
    return ICoinPayClient(STATE["key"], base_url=STATE["base_url"], timeout=(2, 1))


def record_sent(refund) -> None:
    if mark_recorded(refund):
        STATE["recorded"].append(refund.pk)


def payout_problem(refund) -> None:
    STATE["problems"].append((refund.pk, refund.status))


def claim_url(refund) -> str:
    return f"http://shop.test/claim/{claim_token(refund)}"
