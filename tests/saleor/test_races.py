"""Races and ordering: many copies of the paid callback and the storefront's
checkoutComplete at the same moment, over real HTTP on Saleor's live test
server; recorded callbacks delivered out of order."""

from __future__ import annotations

import itertools
import threading
import time
from urllib.parse import urlencode

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

import requests  # noqa: E402
from django.test import Client  # noqa: E402
from saleor.graphql.core.utils import to_global_id_or_none  # noqa: E402
from saleor.order.models import Order  # noqa: E402
from saleor.payment import ChargeStatus, TransactionKind  # noqa: E402
from saleor.payment.models import Payment  # noqa: E402

from saleor_cryptopay.models import CallbackEvent, Invoice  # noqa: E402

from .flow import (  # noqa: E402
    COMPLETE,
    callback_pairs,
    callback_path,
    complete,
    order_messages,
    post_form,
    start,
)

PROVIDERS = ["coinpay24", "coinpay_th"]
CALLBACK_THREADS = 12
HTTP_TIMEOUT = 60  # seconds per request: a lock wait longer than this is a hang
JOIN_TIMEOUT = 90


def _post_callback(url: str, pairs) -> requests.Response:
    return requests.post(
        url,
        data=urlencode(pairs),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=HTTP_TIMEOUT,
    )


def _post_complete(url: str, checkout_id: str) -> requests.Response:
    return requests.post(
        url,
        json={"query": COMPLETE, "variables": {"id": checkout_id}},
        timeout=HTTP_TIMEOUT,
    )


@pytest.fixture
def race_server(crypto_plugins, live_server, settings):
    """The live server, with its request threads reading the test database
    through the replica alias too (Saleor's fake replica is set on the main
    thread only: other threads would open the real, empty database)."""
    from django.db import connections

    replica = connections.settings[settings.DATABASE_CONNECTION_REPLICA_NAME]
    saved = replica["NAME"]
    replica["NAME"] = connections[settings.DATABASE_CONNECTION_DEFAULT_NAME].settings_dict["NAME"]
    yield live_server
    replica["NAME"] = saved


def run_together(jobs: dict[str, callable]) -> dict[str, object]:
    """Start every job at the same instant (a barrier) in its own thread;
    returns each job's result or exception. Fails if any job hangs."""
    barrier = threading.Barrier(len(jobs))
    results: dict[str, object] = {}

    def runner(name, job):
        try:
            barrier.wait(timeout=10)
            results[name] = job()
        except Exception as exc:  # reported below
            results[name] = exc

    threads = [
        threading.Thread(target=runner, args=(name, job), daemon=True) for name, job in jobs.items()
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    hung = [t.name for t in threads if t.is_alive()]
    assert not hung, f"requests still running after {JOIN_TIMEOUT}s (deadlock?): {hung}"
    return results


@pytest.mark.django_db(transaction=True)
# a head start for checkoutComplete: 0 lets the callbacks win the checkout
# lock, a few hundred ms lets checkoutComplete take it first
@pytest.mark.parametrize("head_start", [0.0, 0.4], ids=["together", "complete-first"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_callback_burst_and_checkout_complete_race(
    provider,
    head_start,
    race_server,
    settings,
    configure_gateway,
    api_client,
    ready_checkout,
    checkout_total,
    sb,
):
    """12 copies of the genuine paid callback and one checkoutComplete hit the
    running server at the same moment (the sandbox's own delivery of the same
    callback joins in): one order, one capture, one note, every callback 200."""
    started = time.monotonic()
    live_server = race_server
    # the sandbox's own deliveries go to a closed port: only the burst below
    # reaches the server, so the first charge happens inside the race
    settings.PUBLIC_URL = "http://127.0.0.1:9/"
    plugin = configure_gateway(provider)
    token = ready_checkout.token
    total = checkout_total(ready_checkout)
    invoice_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    invoice = Invoice.objects.get()

    sb.act(provider, invoice_id, "pay")
    pairs = callback_pairs(sb, provider, invoice_id)
    callback_url = live_server.url + callback_path(plugin.PLUGIN_ID)
    graphql_url = live_server.url + "/graphql/"
    checkout_id = to_global_id_or_none(ready_checkout)

    def callback_job():
        time.sleep(head_start)
        return _post_callback(callback_url, pairs)

    jobs = {f"callback-{i}": callback_job for i in range(CALLBACK_THREADS)}
    jobs["checkoutComplete"] = lambda: _post_complete(graphql_url, checkout_id)
    results = run_together(jobs)

    for name, result in results.items():
        assert isinstance(result, requests.Response), (name, result)
    callback_results = [r for n, r in results.items() if n.startswith("callback-")]
    assert [r.status_code for r in callback_results] == [200] * CALLBACK_THREADS, [
        (r.status_code, r.text) for r in callback_results
    ]
    graphql = results["checkoutComplete"]
    assert graphql.status_code == 200, graphql.text
    content = graphql.json()
    assert "errors" not in content, content
    completed = content["data"]["checkoutComplete"]
    assert not completed["errors"], completed
    # whoever won: the order, or "still to be confirmed" (no order, no error)
    assert completed["order"] or completed["confirmationNeeded"], completed

    orders = Order.objects.filter(checkout_token=token)
    assert orders.count() == 1
    order = orders.get()
    assert order.charge_status == "full" and order.total_charged_amount == total
    payment = Payment.objects.get(order=order)
    assert payment.charge_status == ChargeStatus.FULLY_CHARGED
    assert captures(payment) == 1
    assert sum("Payment received" in m for m in order_messages(order)) == 1
    events = list(CallbackEvent.objects.values_list("outcome", "result"))
    assert len(events) >= CALLBACK_THREADS
    assert {outcome for outcome, _ in events} <= {"processed", "ignored"}, events
    # one of them charged; the others found the work done
    charged = [result for _, result in events if result.startswith("charge")]
    assert len(charged) == 1, events
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.order_id == str(order.pk)

    # the storefront asks once more: the same order
    again = complete(api_client, ready_checkout)
    assert not again["errors"] and again["order"]["id"]
    assert Order.objects.filter(checkout_token=token).count() == 1
    winner = "callback (order returned)" if completed["order"] else "checkoutComplete (to confirm)"
    print(f"race {provider} {head_start}: {time.monotonic() - started:.2f}s, first: {winner}")


def captures(payment) -> int:
    return payment.transactions.filter(kind=TransactionKind.CAPTURE, is_success=True).count()


# -- out-of-order delivery -------------------------------------------------------

# Sandbox actions that walk one invoice through its life; every state change
# sends a callback. The provider's final state is set before anything is
# delivered; the recorded callbacks then arrive in every order.
# (provider, actions, number of callbacks they send)
LIFECYCLES = [
    ("coinpay24", ("checkout", "confirming", "pay"), 3),  # pending, confirming, paid
    ("coinpay24", ("checkout", "pay_late"), 3),  # pending, expired, paid
    ("coinpay_th", ("confirming", "pay", "resend"), 3),  # 1, 2, 2 (a new verify token)
    ("coinpay_th", ("pay_late",), 2),  # 4, 2
]

CASES = [
    pytest.param(
        provider, actions, order, id=f"{provider}-{'-'.join(actions)}-{''.join(map(str, order))}"
    )
    for provider, actions, n in LIFECYCLES
    for order in itertools.permutations(range(n))
]


@pytest.mark.django_db
@pytest.mark.parametrize(("provider", "actions", "order"), CASES)
def test_out_of_order_callbacks_end_paid_once(
    provider, actions, order, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    invoice_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    for action in actions:
        sb.act(provider, invoice_id, action)
    deliveries = sb.callbacks(provider, invoice_id)
    assert len(deliveries) == len(order), [d["fields"] for d in deliveries]
    recorded = [callback_pairs(sb, provider, invoice_id, index=i) for i in range(len(order))]

    client = Client()
    history = []
    for index in order:
        response = post_form(client, plugin.PLUGIN_ID, recorded[index])
        assert response.status_code == 200, response.content
        history.append(Invoice.objects.get().status)

    # the first delivery re-reads the provider (paid); nothing moves it back
    assert history == ["paid"] * len(order), history
    token = ready_checkout.token
    order_row = Order.objects.get(checkout_token=token)
    assert order_row.charge_status == "full" and order_row.total_charged_amount == total
    payment = Payment.objects.get(order=order_row)
    assert payment.charge_status == ChargeStatus.FULLY_CHARGED
    assert captures(payment) == 1
    assert sum("Payment received" in m for m in order_messages(order_row)) == 1
    outcomes = list(CallbackEvent.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes[0] == "processed" and set(outcomes[1:]) <= {"processed", "ignored"}
    assert "failed" not in outcomes and "rejected" not in outcomes


@pytest.mark.django_db
@pytest.mark.parametrize("provider", PROVIDERS)
def test_stale_callbacks_after_expiry_do_not_reopen(
    provider, configure_gateway, api_client, ready_checkout, checkout_total, sb
):
    """The provider ends unpaid (expired); the earlier 'pending'/'waiting'
    callbacks arrive after the 'expired' one: the invoice stays expired, the
    payment stays cancelled, nothing is charged."""
    plugin = configure_gateway(provider)
    total = checkout_total(ready_checkout)
    invoice_id = start(api_client, ready_checkout, plugin.PLUGIN_ID, total)["invoice_id"]
    first = "checkout" if provider == "coinpay24" else "underpay"
    sb.act(provider, invoice_id, first)
    sb.act(provider, invoice_id, "expire")
    n = len(sb.callbacks(provider, invoice_id))
    recorded = [callback_pairs(sb, provider, invoice_id, index=i) for i in range(n)]
    client = Client()
    statuses = []
    for pairs in [recorded[-1], *recorded[:-1], recorded[-1]]:  # final first, stale after
        assert post_form(client, plugin.PLUGIN_ID, pairs).status_code == 200
        statuses.append(Invoice.objects.get().status)
    assert len(set(statuses)) == 1, statuses
    payment = Payment.objects.get(checkout=ready_checkout)
    assert not payment.transactions.filter(kind=TransactionKind.CAPTURE).exists()
    assert not Order.objects.filter(checkout_token=ready_checkout.token).exists()
    if provider == "coinpay24":
        assert statuses[0] == "expired"
        assert payment.charge_status == ChargeStatus.CANCELLED or not payment.is_active
    else:  # some coins arrived before the expiry: stays in front of staff
        assert statuses[0] == "underpaid"
        assert Invoice.objects.get().needs_attention
