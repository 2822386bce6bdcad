"""The operations page in the Dashboard's iframe: a refund Saleor requested
shown with its claim link, acted on through the page (new link, address,
unknown outcome recorded as sent), tasks resolved with a note, a failed
provider callback replayed. The same core functions as the CLI."""

# ruff: noqa: F811 (``paid`` is the refund tests' fixture, imported)
from __future__ import annotations

import pytest

from saleor_cryptopay.models import CallbackEvent, RefundRequest, StaffTask
from saleor_cryptopay.refunds import editions

from ..browser import needs_chromium
from .dashboard_browser import in_dashboard, loaded, open_page, shown_text, wait_for
from .test_payment_flow import start
from .test_refunds import BTC, ask_refund, paid, refund_events  # noqa: F401

pytestmark = needs_chromium
S = RefundRequest.Status


@pytest.fixture
def ops(installed, app, saleor):
    with in_dashboard(app, saleor, saleor.staff_token(permissions=("MANAGE_ORDERS",))) as driver:
        loaded(driver, "home")
        open_page(driver, "operations")
        yield driver


def click(driver, selector: str) -> None:
    driver.find_element("css selector", selector).click()


def test_refund_claim_link_new_link_and_address_from_the_page(paid, hook, saleor, app, sb, ops):
    ask_refund(hook, paid, 12.5)
    refund = RefundRequest.objects.get()
    driver = ops
    open_page(driver, "operations")
    row = f"tr[data-refund='{refund.pk}']"
    first = driver.find_element("css selector", f"{row} [data-copy]").get_attribute("data-copy")
    assert first.startswith(f"{app}/api/claim/")
    click(driver, f"{row} form[data-action='refund-new-link'] button")
    shown_text(driver, f"Refund #{refund.pk} has a new claim link.")
    second = driver.find_element("css selector", f"{row} [data-copy]").get_attribute("data-copy")
    assert second != first and second.startswith(f"{app}/api/claim/")
    driver.find_element("css selector", f"{row} [name='address']").send_keys(BTC)
    click(driver, f"{row} form[data-action='refund-address'] button")
    shown_text(driver, f"Refund #{refund.pk} queued to {BTC}")
    refund.refresh_from_db()
    assert refund.status == S.QUEUED and refund.address_set_by == "staff@example.com"
    assert [o.result for o in editions.process_payouts()] == ["sent"]
    wait_for(lambda: refund_events(saleor), "REFUND_SUCCESS")


def test_unknown_payout_says_the_rule_and_staff_record_it_sent(paid, hook, saleor, sb, ops):
    ask_refund(hook, paid, 30)
    refund = RefundRequest.objects.get()
    from saleor_cryptopay.refunds import request as core

    core.set_address(refund.pk, BTC, by="staff")
    sb.inject_fault("icoinpay", "drop", endpoint="send")
    assert [o.result for o in editions.process_payouts()] == ["unknown"]
    driver = ops
    text = open_page(driver, "operations")
    assert "never retried by itself" in text and "Check the iCoinPay wallet" in text
    # the open task is listed first, above the refunds
    assert text.index("Open tasks") < text.index("Refunds")
    task = StaffTask.objects.get(kind=f"payout_unknown:{refund.pk}")
    assert driver.find_elements("css selector", f"tr[data-task='{task.pk}']")
    row = f"tr[data-refund='{refund.pk}']"
    # "retry" on an unknown outcome is offered only as "not sent"
    assert "Not sent: retry" in driver.find_element("css selector", row).text
    payout_id = str(sb.payouts()[0]["id"])
    driver.find_element("css selector", f"{row} [name='txid']").send_keys(payout_id)
    click(driver, f"{row} form[data-action='refund-mark-sent'] button")
    shown_text(driver, f"Refund #{refund.pk} recorded as sent ({payout_id})")
    [report] = refund_events(saleor)
    assert report["amount"] == "30.00" and len(sb.payouts()) == 1
    task.refresh_from_db()
    assert task.resolved_at is not None  # the core resolves the refund's task


def test_a_task_is_resolved_with_a_note(paid, hook, saleor, sb, ops):
    ask_refund(hook, paid, 30)
    refund = RefundRequest.objects.get()
    from saleor_cryptopay.refunds import request as core

    core.set_address(refund.pk, BTC, by="staff")
    sb.set_wallet(balance=10)
    assert [o.result for o in editions.process_payouts()] == ["refused"]
    task = StaffTask.objects.get(kind=f"payout_failed:{refund.pk}")
    driver = ops
    open_page(driver, "operations")
    row = f"tr[data-task='{task.pk}']"
    driver.find_element("css selector", f"{row} [name='note']").send_keys("wallet topped up")
    click(driver, f"{row} button")
    shown_text(driver, f"Task #{task.pk} resolved.")
    task.refresh_from_db()
    assert task.resolved_at and "Resolved by staff@example.com: wallet topped up" in task.message
    assert not driver.find_elements("css selector", row)


def test_a_failed_callback_is_replayed_from_the_page(configure, hook, sb, saleor, ops):
    configure()
    _, answer = start(hook)
    sb.inject_fault("coinpay24", "status", count=10_000, status=503)
    sb.act("coinpay24", answer["pspReference"], "pay")
    wait_for(
        lambda: CallbackEvent.objects.filter(outcome=CallbackEvent.Outcome.FAILED).exists(),
        "a failed callback",
    )
    sb.clear_faults()
    event = CallbackEvent.objects.filter(outcome=CallbackEvent.Outcome.FAILED).first()
    driver = ops
    open_page(driver, "operations")
    click(driver, f"tr[data-callback='{event.pk}'] form[data-action='replay-callback'] button")
    shown_text(driver, f"Callback #{event.pk} replayed: processed")
    wait_for(lambda: saleor.completions(), "the order")
