"""Manifest, installation and webhook authentication, over real HTTP with
real RS256 signatures."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests

from saleor_cryptopay.app.models import Installation
from saleor_cryptopay.models import Invoice

from .fake_saleor import APP_ID, TOKEN, SigningKey, gid, initialize_payload, source

GATEWAY_INIT = "PAYMENT_GATEWAY_INITIALIZE_SESSION"


def gateway_payload(**extra):
    return {
        "issuedAt": datetime.now(UTC).isoformat(),
        "version": "3.20.119",
        "recipient": {"id": APP_ID},
        "amount": 30.0,
        "data": None,
        "sourceObject": source(),
        **extra,
    }


def test_manifest(app):
    data = requests.get(f"{app}/api/manifest", timeout=10).json()
    assert data["id"] == "saleor.cryptopay"
    assert data["permissions"] == ["HANDLE_PAYMENTS"]
    assert data["tokenTargetUrl"] == f"{app}/api/register"
    assert data["appUrl"] == f"{app}/"
    assert data["requiredSaleorVersion"] == ">=3.20 <4"
    events = {e for w in data["webhooks"] for e in w.get("syncEvents", [])}
    assert {e for w in data["webhooks"] for e in w.get("asyncEvents", [])} == {"APP_DELETED"}
    assert events == {
        "PAYMENT_GATEWAY_INITIALIZE_SESSION",
        "TRANSACTION_INITIALIZE_SESSION",
        "TRANSACTION_PROCESS_SESSION",
        "TRANSACTION_REFUND_REQUESTED",
        "TRANSACTION_CANCELATION_REQUESTED",
    }
    for webhook in data["webhooks"]:
        assert webhook["targetUrl"].startswith(f"{app}/api/webhooks/")
        assert "recipient { id }" in webhook["query"] and "issuedAt" in webhook["query"]
        # every advertised endpoint exists (a wrong path is a 404, not a 401)
        assert requests.post(webhook["targetUrl"], data=b"{}", timeout=10).status_code == 401


def test_register_stores_the_token_encrypted_and_never_logs_it(app, saleor, caplog):
    caplog.set_level(logging.DEBUG)
    response = requests.post(
        f"{app}/api/register",
        json={"auth_token": TOKEN},
        headers={"Saleor-Api-Url": saleor.api_url, "Saleor-Domain": "127.0.0.1"},
        timeout=10,
    )
    assert response.status_code == 200
    inst = Installation.objects.get()
    assert inst.app_id == APP_ID and inst.token == TOKEN
    assert TOKEN not in inst.token_encrypted
    assert inst.jwks["keys"][0]["kid"] == "saleor-key-1"
    # the token was proven against that Saleor, with {app{id}}
    assert saleor.calls[0]["auth"] == f"Bearer {TOKEN}" and "app" in saleor.calls[0]["query"]
    assert TOKEN not in caplog.text and TOKEN not in repr(inst)


def test_register_refuses_a_token_saleor_does_not_know(app, saleor):
    response = requests.post(
        f"{app}/api/register",
        json={"auth_token": "made-up"},
        headers={"Saleor-Api-Url": saleor.api_url},
        timeout=10,
    )
    assert response.status_code == 403
    assert not Installation.objects.exists()


def test_register_refuses_a_saleor_not_allowed(app, saleor, settings):
    settings.ALLOWED_SALEOR_URLS = ["https://shop.example/"]
    response = requests.post(
        f"{app}/api/register",
        json={"auth_token": TOKEN},
        headers={"Saleor-Api-Url": saleor.api_url},
        timeout=10,
    )
    assert response.status_code == 403
    assert not Installation.objects.exists() and not saleor.calls


def test_signed_gateway_initialize_lists_the_channel_providers(configure, hook):
    configure("coinpay24")
    configure("coinpay_th")
    configure("coinpay24", channel="other")
    response = hook(GATEWAY_INIT, gateway_payload())
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "providers": [
                {"id": "coinpay24", "name": "CoinPay24"},
                {"id": "coinpay_th", "name": "CoinPay.in.th"},
            ]
        }
    }
    # only providers that accept the checkout's currency
    eur = gateway_payload(sourceObject=source(currency="EUR"))
    assert hook(GATEWAY_INIT, eur).json() == {"data": {"providers": []}}


def _init(txn):
    return "TRANSACTION_INITIALIZE_SESSION", initialize_payload(transaction_id=txn)


def test_forged_signature_is_refused_and_changes_nothing(configure, hook, saleor):
    configure()
    event, payload = _init(gid("TransactionItem"))
    body = json.dumps(payload).encode()
    forger = SigningKey("saleor-key-1")  # same kid, another private key
    response = hook(event, payload, body=body, headers={"Saleor-Signature": forger.sign(body)})
    assert response.status_code == 401
    assert not Invoice.objects.exists()


def test_tampered_body_is_refused(configure, hook, saleor):
    configure()
    event, payload = _init(gid("TransactionItem"))
    body = json.dumps(payload).encode()
    signature = saleor.key.sign(body)
    tampered = body.replace(b"30.0", b"0.01")
    assert tampered != body
    response = hook(event, payload, body=tampered, headers={"Saleor-Signature": signature})
    assert response.status_code == 401
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    "signature", ["", "not-a-jws", "e30.e30.sig", "eyJhbGciOiJub25lIn0..", "a..b..c"]
)
def test_missing_or_malformed_signature_is_refused(configure, hook, signature):
    configure()
    event, payload = _init(gid("TransactionItem"))
    response = hook(event, payload, headers={"Saleor-Signature": signature})
    assert response.status_code == 401
    assert not Invoice.objects.exists()


def test_unknown_instance_is_refused(configure, hook):
    configure()
    event, payload = _init(gid("TransactionItem"))
    response = hook(event, payload, headers={"Saleor-Api-Url": "http://127.0.0.1:1/graphql/"})
    assert response.status_code == 401
    assert not Invoice.objects.exists()


def test_wrong_event_for_the_endpoint_is_refused(configure, hook, app, saleor):
    configure()
    _, payload = _init(gid("TransactionItem"))
    body = json.dumps(payload).encode()
    # a correctly signed initialize payload sent to the process endpoint
    headers = saleor.headers("TRANSACTION_INITIALIZE_SESSION", body)
    response = requests.post(
        f"{app}/api/webhooks/transaction-process-session", data=body, headers=headers, timeout=10
    )
    assert response.status_code == 400


def test_payload_for_another_app_is_refused(configure, hook):
    configure()
    event, payload = _init(gid("TransactionItem"))
    payload["recipient"] = {"id": gid("App", 7)}
    assert hook(event, payload).status_code == 403
    assert not Invoice.objects.exists()


def test_replayed_old_payload_is_refused(configure, hook):
    configure()
    event, payload = _init(gid("TransactionItem"))
    payload["issuedAt"] = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert hook(event, payload).status_code == 401
    del payload["issuedAt"]
    assert hook(event, payload).status_code == 401
    assert not Invoice.objects.exists()


def test_replay_within_the_window_creates_nothing_new(configure, hook, saleor, sb):
    configure()
    event, payload = _init(gid("TransactionItem"))
    body = json.dumps(payload).encode()
    headers = {"Saleor-Signature": saleor.key.sign(body)}
    first = hook(event, payload, body=body, headers=headers).json()
    again = hook(event, payload, body=body, headers=headers).json()
    assert first == again
    assert Invoice.objects.count() == 1 and len(sb.invoices()) == 1


def test_rotated_key_is_fetched_once(configure, hook, saleor, installed):
    configure()
    fetches = saleor.jwks_fetches
    saleor.key = SigningKey("saleor-key-2")
    saleor.published = [saleor.key]
    installed.jwks_fetched_at = datetime.now(UTC) - timedelta(minutes=5)
    installed.save()
    response = hook(GATEWAY_INIT, gateway_payload())
    assert response.status_code == 200
    assert saleor.jwks_fetches == fetches + 1
    hook(GATEWAY_INIT, gateway_payload())
    assert saleor.jwks_fetches == fetches + 1  # cached now
