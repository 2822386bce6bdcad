"""check_credentials against real servers on loopback: the sandbox with right
and wrong credentials, and small servers that answer the way a broken setup does."""

from __future__ import annotations

import time

import pytest

from saleor_cryptopay.sandbox.faults import Fault
from saleor_cryptopay.setup_checks import Level, check_credentials

from .servers import Answer, closed_port, html_answer, json_answer, serve

FAST = (1.0, 1.0)


def coinpay24(sb, **values):
    config = {"api_key": sb.coinpay24_api_key, "api_base_url": sb.coinpay24_base, **values}
    return check_credentials("coinpay24", config, timeout=FAST)


def coinpay_th(sb, **values):
    config = {
        "api_key": sb.coinpay_th_key,
        "api_secret": sb.coinpay_th_secret,
        "api_base_url": sb.coinpay_th_base,
        **values,
    }
    return check_credentials("coinpay_th", config, timeout=FAST)


def only(findings):
    assert len(findings) == 1, findings
    return findings[0]


def test_coinpay24_right_key_is_accepted_with_one_list_call(sb):
    found = only(coinpay24(sb))
    assert (found.level, found.field) == (Level.OK, "api_key")
    assert sb.faults.pending() == []  # nothing armed, nothing consumed


def test_coinpay24_wrong_key_is_an_error_quoting_the_provider(sb):
    found = only(coinpay24(sb, api_key="wrong-key-123456"))
    assert (found.level, found.field) == (Level.ERROR, "api_key")
    assert "CoinPay24 refused the API key" in found.message
    assert "invalid api_key" in found.message and "HTTP 401" in found.message
    assert "wrong-key-123456" not in str(found)


def test_coinpay_th_right_pair_is_accepted(sb):
    assert only(coinpay_th(sb)).level is Level.OK


@pytest.mark.parametrize(
    "wrong", [{"api_key": "not-my-key-999"}, {"api_secret": "not-my-secret-999"}]
)
def test_coinpay_th_wrong_key_or_secret_is_an_error(sb, wrong):
    found = only(coinpay_th(sb, **wrong))
    assert (found.level, found.field) == (Level.ERROR, "api_key")
    assert "refused the API key or secret" in found.message
    assert "Invalid API key or signature" in found.message
    secret = next(iter(wrong.values()))
    assert secret not in str(found) and sb.coinpay_th_secret not in str(found)


def test_missing_credentials_are_errors_without_a_call():
    found = check_credentials("coinpay_th", {"api_key": "k"})
    assert [(f.level, f.field) for f in found] == [(Level.ERROR, "api_secret")]


@pytest.mark.parametrize("provider", ["coinpay24", "coinpay_th"])
def test_provider_down_is_a_warning_not_an_error(sb, provider):
    sb.faults.add(Fault(provider, "status", status=503))
    found = only(coinpay24(sb) if provider == "coinpay24" else coinpay_th(sb))
    assert (found.level, found.field) == (Level.WARNING, "api_base_url")
    assert "HTTP 503" in found.message


def test_rate_limited_is_a_warning(sb):
    sb.faults.add(Fault("coinpay24", "rate_limit", retry_after=30))
    assert only(coinpay24(sb)).level is Level.WARNING


def test_closed_port_is_a_warning_saying_unreachable():
    base = f"http://127.0.0.1:{closed_port()}/v1"
    found = only(check_credentials("coinpay24", {"api_key": "k" * 20, "api_base_url": base}))
    assert (found.level, found.field) == (Level.WARNING, "api_base_url")
    assert "unreachable" in found.message


def test_timeout_is_a_warning_within_the_timeout():
    def slow(path, headers, body):
        time.sleep(2)
        return json_answer("{}")

    with serve(slow) as (url, _):
        started = time.monotonic()
        found = only(
            check_credentials(
                "coinpay24", {"api_key": "k" * 20, "api_base_url": url}, timeout=(1, 0.5)
            )
        )
        assert time.monotonic() - started < 1.5
    assert found.level is Level.WARNING and "timed out" in found.message


def test_unresolvable_host_is_an_error():
    config = {"api_key": "k" * 20, "api_base_url": "https://api.coinpay24.invalid/v1"}
    found = only(check_credentials("coinpay24", config, timeout=FAST))
    assert (found.level, found.field) == (Level.ERROR, "api_base_url")
    assert "does not resolve" in found.message


def test_untrusted_certificate_is_a_tls_error(tls):
    with serve(lambda *a: json_answer("{}"), tls=tls) as (url, seen):
        config = {"api_key": "k" * 20, "api_base_url": url + "/v1"}
        found = only(check_credentials("coinpay24", config, timeout=FAST))
    assert (found.level, found.field) == (Level.ERROR, "api_base_url")
    assert "TLS failure" in found.message and "certificate" in found.message
    assert seen.requests == []  # nothing (no key) was sent over the refused connection


@pytest.mark.parametrize("status", [200, 404])
def test_a_website_instead_of_the_api_is_an_error(status):
    with serve(lambda *a: html_answer(status)) as (url, _):
        config = {"api_key": "k" * 20, "api_base_url": url}
        found = only(check_credentials("coinpay24", config, timeout=FAST))
    assert (found.level, found.field) == (Level.ERROR, "api_base_url")
    assert "is not the CoinPay24 API" in found.message and "HTML" in found.message


def test_a_provider_echoing_the_key_never_shows_it():
    key = "sk_live_0123456789abcdef"

    def echo(path, headers, body):
        return json_answer(f'{{"message": "unknown api_key {key}"}}', 401)

    with serve(echo) as (url, seen):
        found = only(check_credentials("coinpay24", {"api_key": key, "api_base_url": url}))
    assert key.encode() in seen.requests[0]["body"]  # it was sent, as it must be
    assert found.level is Level.ERROR
    assert key not in str(found) and "***" in found.message


def test_a_crash_inside_the_check_is_a_warning_not_an_exception(monkeypatch):
    from saleor_cryptopay.setup_checks import credentials

    def boom(*args):
        raise RuntimeError("bug")

    check = credentials.CHECKS["coinpay24"]
    monkeypatch.setitem(
        credentials.CHECKS,
        "coinpay24",
        credentials.CredentialCheck(**{**check.__dict__, "call": boom}),
    )
    found = only(check_credentials("coinpay24", {"api_key": "k" * 20}))
    assert found.level is Level.WARNING and "RuntimeError" in found.message


def test_unknown_base_url_scheme_is_an_error():
    found = only(check_credentials("coinpay24", {"api_key": "k" * 20, "api_base_url": "ftp://x"}))
    assert (found.level, found.field) == (Level.ERROR, "api_base_url")


def test_answer_not_json_with_200_and_no_invoices_key_is_an_error():
    with serve(lambda *a: Answer(200, b'{"hello": 1}', {"Content-Type": "application/json"})) as (
        url,
        _,
    ):
        found = only(check_credentials("coinpay24", {"api_key": "k" * 20, "api_base_url": url}))
    assert (found.level, found.field) == (Level.ERROR, "api_base_url")
