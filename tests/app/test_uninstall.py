"""Uninstall: Saleor's signed APP_DELETED marks the installation removed,
deletes its token and stops its outbox; invoices, refunds and history stay,
and a reinstall from the same Saleor picks them up. A refused token is a
problem for staff, not an uninstall."""

from __future__ import annotations

import requests

from saleor_cryptopay.app import outbox
from saleor_cryptopay.app.models import ChannelConfiguration, Installation, OutboxReport
from saleor_cryptopay.models import Invoice, StaffTask

from .fake_saleor import APP_ID, TOKEN, now_iso
from .test_payment_flow import start, wait_for


def deleted_payload(app_id: str = APP_ID) -> dict:
    return {"issuedAt": now_iso(), "version": "3.20.119", "recipient": {"id": APP_ID},
            "app": {"id": app_id}}  # fmt: skip


def test_app_deleted_removes_the_installation_and_a_reinstall_resumes(
    configure, hook, sb, saleor, app
):
    configure()
    txn, answer = start(hook)
    response = hook("APP_DELETED", deleted_payload())
    assert response.status_code == 200, response.text
    installation = Installation.objects.get()
    assert installation.removed_at is not None and installation.token_encrypted == ""
    # the shopper pays anyway: the charge is kept, nothing goes to Saleor
    calls_before = len(saleor.received())
    sb.act("coinpay24", answer["pspReference"], "pay")
    sb.wait_for_callbacks(1, provider="coinpay24")
    wait_for(lambda: Invoice.objects.get().status in ("paid", "confirmed", "overpaid"))
    assert outbox.flush() == []
    assert len(saleor.received()) == calls_before
    assert OutboxReport.objects.filter(done_at=None).exists()
    # Saleor's webhooks and the Dashboard no longer reach a removed installation
    assert hook("TRANSACTION_INITIALIZE_SESSION", {}).status_code == 401
    page = requests.get(
        f"{app}/dashboard/page/home",
        headers={"Saleor-Api-Url": saleor.api_url,
                 "Authorization": f"Bearer {saleor.staff_token()}"},
        timeout=10,
    )  # fmt: skip
    assert page.status_code == 403

    # reinstalled: same Saleor, new token; configuration and invoice are still there
    saleor.token = TOKEN + "-new"
    response = requests.post(
        f"{app}/api/register",
        json={"auth_token": saleor.token},
        headers={"Saleor-Api-Url": saleor.api_url},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    installation.refresh_from_db()
    assert installation.removed_at is None and installation.token == saleor.token
    assert ChannelConfiguration.objects.filter(installation=installation).exists()
    outbox.flush()
    assert [r["type"] for r in saleor.reports()] == ["CHARGE_SUCCESS"]
    assert saleor.reports()[0]["id"] == txn and saleor.completions()


def test_deleting_another_app_of_that_saleor_changes_nothing(installed, hook):
    assert hook("APP_DELETED", deleted_payload("QXBwOjk5")).status_code == 200
    assert Installation.objects.get().removed_at is None


def test_a_refused_token_is_a_staff_task_not_an_uninstall(configure, hook, sb, saleor):
    configure()
    _, answer = start(hook)
    saleor.token = "rotated-elsewhere"  # Saleor refuses the App's token
    sb.act("coinpay24", answer["pspReference"], "pay")
    wait_for(lambda: StaffTask.objects.filter(kind="report_refused").exists())
    installation = Installation.objects.get()
    assert installation.removed_at is None and installation.token == TOKEN
    assert OutboxReport.objects.filter(done_at=None).exists()  # kept to send again
