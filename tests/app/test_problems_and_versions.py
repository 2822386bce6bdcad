"""Features chosen by the Saleor version the App talks to (remembered from
webhook payloads): App Problems from 3.22.36, paymentMethodDetails from 3.22.
The fake Saleor validates every document against its version's schema, so a
3.22-only document sent to 3.20 fails these tests."""

from __future__ import annotations

import pytest

from saleor_cryptopay.app import problems
from saleor_cryptopay.app.configure import save_configuration
from saleor_cryptopay.app.models import Installation
from saleor_cryptopay.models import Invoice, RefundRequest
from saleor_cryptopay.refunds import editions
from saleor_cryptopay.refunds import request as core

from ..saleor_schema import needs_schemas
from .test_payment_flow import start, wait_for
from .test_refunds import BTC, REFUND, refund_payload

pytestmark = needs_schemas


def pay_and_refund(configure, hook, sb, saleor, settings, version: str) -> RefundRequest:
    settings.CRYPTOPAY_EDITION = "saleor_cryptopay.app.refunds"
    saleor.version = version
    configure(
        "coinpay_th", icoinpay_api_key=sb.icoinpay_api_key, icoinpay_api_base_url=sb.icoinpay_base
    )
    txn, answer = start(hook, provider="coinpay_th", version=version)
    assert Installation.objects.get().saleor_version == version
    sb.act("coinpay_th", answer["pspReference"], "pay")
    wait_for(lambda: saleor.completions())
    payload = {**refund_payload(txn, answer["pspReference"], 30), "version": version}
    assert hook(REFUND, payload).status_code == 200
    return RefundRequest.objects.get()


def wallet_key(saleor, sb, key: str) -> None:
    save_configuration(
        saleor_api_url=saleor.api_url,
        channel="main",
        provider="coinpay_th",
        values={"icoinpay_api_key": key},
        check=False,
    )


def test_saleor_323_gets_an_app_problem_for_a_refused_wallet_key_dismissed_when_fixed(
    configure, hook, sb, saleor, settings
):
    refund = pay_and_refund(configure, hook, sb, saleor, settings, "3.23.28")
    wallet_key(saleor, sb, "revoked-key")
    core.set_address(refund.pk, BTC, by="staff")
    assert [o.result for o in editions.process_payouts()] == ["refused"]
    [(kind, problem)] = saleor.problems
    assert kind == "create" and problem["key"] == problems.PAYOUT
    assert f"Refund #{refund.pk}" in problem["message"]

    wallet_key(saleor, sb, sb.icoinpay_api_key)
    core.retry(refund.pk)
    assert [o.result for o in editions.process_payouts()] == ["sent"]
    assert saleor.problems[-1] == ("dismiss", {"keys": [problems.PAYOUT]})


def test_saleor_320_gets_no_app_problem_the_page_shows_the_task(
    configure, hook, sb, saleor, settings
):
    refund = pay_and_refund(configure, hook, sb, saleor, settings, "3.20.119")
    wallet_key(saleor, sb, "revoked-key")
    core.set_address(refund.pk, BTC, by="staff")
    assert [o.result for o in editions.process_payouts()] == ["refused"]
    assert saleor.problems == []
    assert refund.invoice.staff_tasks.filter(resolved_at=None).exists()


@pytest.mark.parametrize("version", ["3.22.67", "3.23.28"])
def test_charge_names_the_coin_on_saleor_322_and_later(configure, hook, sb, saleor, version):
    saleor.version = version
    configure("coinpay_th")
    _, answer = start(hook, provider="coinpay_th", version=version)
    sb.act("coinpay_th", answer["pspReference"], "pay")
    wait_for(lambda: saleor.completions())
    coin = Invoice.objects.get().pay_currency
    [method] = saleor.methods.values()
    assert coin and method == f"Cryptocurrency ({coin.upper()})"


def test_charge_on_saleor_320_sends_no_payment_method(configure, hook, sb, saleor):
    configure("coinpay_th")
    _, answer = start(hook, provider="coinpay_th", version="3.20.119")
    sb.act("coinpay_th", answer["pspReference"], "pay")
    wait_for(lambda: saleor.completions())
    assert list(saleor.methods.values()) == [None]


def test_setup_check_problems_on_323(configure, saleor, settings, hook):
    saleor.version = "3.23.28"
    config = configure("coinpay24")
    Installation.objects.update(saleor_version="3.23.28")
    settings.APP_URL = "http://127.0.0.1:9"  # a callback URL no provider reaches
    from saleor_cryptopay.app.checks import check_configuration
    from saleor_cryptopay.app.models import ChannelConfiguration

    check_configuration(ChannelConfiguration.objects.get(pk=config.pk))
    created = [p for kind, p in saleor.problems if kind == "create"]
    assert [p["key"] for p in created] == [f"{problems.CALLBACKS}:main/coinpay24"]
    dismissed = [p for kind, p in saleor.problems if kind == "dismiss"]
    assert {"keys": [f"{problems.CREDENTIALS}:main/coinpay24"]} in dismissed


def test_version_from_registration_header_is_major_minor_only(installed, saleor):
    from saleor_cryptopay.app.saleor_version import APP_PROBLEMS, at_least, remember

    remember(installed, "3.22")
    assert not at_least(installed.saleor_version, APP_PROBLEMS)  # 3.22.0 < 3.22.36
    remember(installed, "3.22.40")
    assert at_least(installed.saleor_version, APP_PROBLEMS)
    remember(installed, "3.22")  # says less: kept
    assert installed.saleor_version == "3.22.40"
