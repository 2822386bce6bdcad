"""Fault injection, rate limiting, permanent delay and the state file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from sandbox_helpers import Listener, control, cp24, create_invoice, next_nonce, th, th_ok

from saleor_cryptopay.providers.coinpay24_hash import verify_callback
from saleor_cryptopay.sandbox import SandboxServer


def test_delay_fault(sb: SandboxServer) -> None:
    sb.inject_fault("coinpay24", "delay", seconds=0.3)
    started = time.monotonic()
    resp = cp24(sb, "/invoices")
    assert resp.status_code == 200 and time.monotonic() - started >= 0.3
    started = time.monotonic()
    cp24(sb, "/invoices")
    assert time.monotonic() - started < 0.3  # count=1: used up


def test_status_fault_count_and_shape(sb: SandboxServer) -> None:
    resp = control(
        sb, "/faults", {"provider": "coinpay24", "mode": "status", "count": 2, "status": 503}
    )
    assert resp.status_code == 200
    for _ in range(2):
        resp = cp24(
            sb,
            "/invoices/create",
            json={"order_id": "1", "price_amount": "1", "price_currency": "USD"},
        )
        assert resp.status_code == 503
        assert {"message", "reason", "error_message"} <= resp.json().keys()
    assert cp24(sb, "/invoices").status_code == 200
    # nothing was created by the faulted calls
    assert cp24(sb, "/invoices").json()["total_invoices"] == 0
    sb.inject_fault("coinpay_th", "status", status=500)
    resp = th(sb, "balance")
    assert resp.status_code == 500 and resp.json()["success"] is False


def test_html_empty_and_bad_json_faults(sb: SandboxServer) -> None:
    sb.inject_fault("coinpay24", "html")
    resp = cp24(sb, "/invoices")
    assert resp.status_code == 502 and resp.headers["Content-Type"].startswith("text/html")
    assert "<html>" in resp.text
    sb.inject_fault("coinpay24", "empty")
    resp = cp24(sb, "/invoices")
    assert resp.status_code == 500 and resp.content == b""
    sb.inject_fault("coinpay24", "bad_json")
    resp = cp24(
        sb, "/invoices/create", json={"order_id": "1", "price_amount": "1", "price_currency": "USD"}
    )
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()
    # bad_json: the provider acted, only the answer was lost
    assert cp24(sb, "/invoices").json()["total_invoices"] == 1


def test_rate_limit_fault_and_endpoint_filter(sb: SandboxServer) -> None:
    sb.inject_fault("coinpay_th", "rate_limit", retry_after=2, endpoint="checkorder")
    assert th(sb, "balance").status_code == 200  # other endpoint: untouched
    order = th_ok(sb, "paybox", amount="1000", currency="THB")
    resp = th(sb, "check", order_id=order["order_id"])  # alias of checkorder matches
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    assert th(sb, "checkorder", order_id=order["order_id"]).status_code == 200
    assert control(sb, "/faults", method="GET").json() == []


def test_faulted_call_consumes_no_nonce(sb: SandboxServer) -> None:
    sb.inject_fault("coinpay_th", "status")
    nonce = next_nonce()
    assert th(sb, "balance", nonce=nonce).status_code == 503
    assert th(sb, "balance", nonce=nonce).json()["success"] is True


def test_bad_fault_request(sb: SandboxServer) -> None:
    assert control(sb, "/faults", {"provider": "x", "mode": "delay"}).status_code == 400
    assert control(sb, "/faults", {"provider": "coinpay24", "mode": "x"}).status_code == 400


def test_permanent_delay_option() -> None:
    with SandboxServer(port=0, delay=0.2) as sb:
        started = time.monotonic()
        assert cp24(sb, "/invoices").status_code == 200
        assert time.monotonic() - started >= 0.2
        started = time.monotonic()
        requests.get(sb.url + "/_sandbox/requests", timeout=5)  # control API is not delayed
        assert time.monotonic() - started < 0.2


def test_rate_limit_per_minute() -> None:
    with SandboxServer(port=0, rate_limit_per_minute=3) as sb:
        assert [cp24(sb, "/invoices").status_code for _ in range(3)] == [200] * 3
        resp = cp24(sb, "/invoices")
        assert resp.status_code == 429
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
        assert th(sb, "balance").status_code == 200  # per provider
        assert sb.request_counts()["coinpay24"]["invoices/list"] == 4


# -- state file -------------------------------------------------------------------


def test_ids_never_repeat_after_a_restart_without_state_file() -> None:
    """Ids started over at each start: a shop holding invoice 1001 from the
    first run got 1001 again for a new payment (a 500 at checkout)."""
    given: set[str] = set()
    for _ in range(2):
        with SandboxServer(port=0, time_scale=1.0) as sb:
            ids = [str(create_invoice(sb)["id"]) for _ in range(2)]
            ids.append(str(th_ok(sb, "paybox", amount="1000", currency="THB")["order_id"]))
            assert not given & set(ids), (given, ids)
            given.update(ids)


def test_state_file_survives_restart(tmp_path: Path, listener: Listener) -> None:
    state = tmp_path / "sandbox.json"
    listener.respond(500)  # the callback will still be pending at shutdown
    with SandboxServer(port=0, state_file=str(state), time_scale=1.0) as sb:
        inv = create_invoice(sb, callback_url=listener.url, order_id="persist-1")
        order = th_ok(sb, "paybox", amount="1000", currency="THB", reference_id="keep-me")
        nonce = next_nonce()
        assert th(sb, "balance", nonce=nonce).json()["success"]
        sb.act("coinpay24", inv["id"], "pay")
        listener.wait(1)  # first attempt failed; the next is a real minute away
        assert json.loads(state.read_text())["invoices"][0]["order_id"] == "persist-1"
    assert state.exists() and not list(tmp_path.glob(".sandbox-state-*"))  # no temp left

    with SandboxServer(port=0, state_file=str(state), time_scale=1.0) as sb2:
        got = cp24(sb2, f"/invoices/{inv['id']}").json()
        assert got["status"] == "paid" and got["order_id"] == "persist-1"
        assert got["payment_url"].startswith(sb2.url)  # new port, same token
        check = th(sb2, "checkorder", order_id=order["order_id"]).json()
        assert check["reference_id"] == "keep-me"
        assert th(sb2, "balance", nonce=nonce).json()["success"] is False  # nonce remembered
        (cb,) = sb2.callbacks(invoice=inv["id"])
        assert cb["state"] == "pending" and len(cb["attempts"]) == 1
        sb2.retry_callback(cb["id"])  # the next retry is a minute away: force it
        (done,) = sb2.wait_for_callbacks(1, timeout=5)
        assert done["state"] == "delivered" and len(done["attempts"]) == 2
        assert verify_callback(listener.records[-1]["pairs"], "sandbox-coinpay24-key")
        # new ids do not collide with restored ones
        assert create_invoice(sb2)["id"] > inv["id"]


def test_pending_callback_resumes_on_its_own(tmp_path: Path, listener: Listener) -> None:
    state = tmp_path / "s.json"
    listener.respond(500)
    with SandboxServer(port=0, state_file=str(state), time_scale=0.002) as sb:
        inv = create_invoice(sb, callback_url=listener.url)
        sb.act("coinpay24", inv["id"], "pay")
        listener.wait(1)
    # the retry is due 120 ms after the failure, whether or not we are running
    with SandboxServer(port=0, state_file=str(state), time_scale=0.002) as sb2:
        (cb,) = sb2.wait_for_callbacks(1, timeout=5)
        assert cb["state"] == "delivered" and len(cb["attempts"]) == 2
