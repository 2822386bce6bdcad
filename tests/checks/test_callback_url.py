"""check_callback_url against real servers on loopback that redirect, demand
auth, answer wrongly, or answer the probe as the plugin does.

The address check flags loopback (the provider never calls it), so these
tests assert that finding and, separately, what the probe saw."""

from __future__ import annotations

import ipaddress
import json

import pytest

from saleor_cryptopay.setup_checks import (
    Level,
    check_callback_url,
    classify_callback_url,
    probe_callback_url,
)
from saleor_cryptopay.setup_checks.callback_url import resolve_host
from saleor_cryptopay.setup_checks.probe import probe_answer

from .servers import Answer, closed_port, html_answer, json_answer, serve

KEY = "this-deployment"
PATH = "/plugins/channel/main/saleor_cryptopay.coinpay24/callback"
FAST = (1.0, 2.0)


def plugin_like(key: str = KEY):
    """Answers as plugin/callbacks.py does: the probe's proof, else a normal 200."""

    def respond(path, headers, body):
        answer = probe_answer(headers.get("content-type", ""), body, key)
        if answer is not None:
            return json_answer(json.dumps(answer))
        return Answer(200, b"rejected: no invoice id in the callback")

    return respond


def probe(url, **options):
    found = probe_callback_url(url, key=KEY, timeout=FAST, **options)
    assert len(found) == 1, found
    return found[0]


def levels(findings):
    return [(f.level, f.field) for f in findings]


# -- address classification ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://localhost/cb", "loopback"),
        ("https://127.0.0.1/cb", "loopback"),
        ("https://[::1]/cb", "loopback"),
        ("https://[::ffff:127.0.0.1]/cb", "loopback"),
        ("https://[fd00::5]/cb", "private-network"),
        ("https://[fe80::1]/cb", "link-local"),
        ("https://10.1.2.3/cb", "private-network"),
        ("https://192.168.0.10:8000/cb", "private-network"),
        ("https://169.254.169.254/cb", "link-local"),
        ("https://100.64.0.1/cb", "not publicly routable"),
        ("https://0.0.0.0/cb", "reserved"),
    ],
)
def test_addresses_the_provider_never_calls_are_errors(url, kind):
    found = classify_callback_url(url)
    assert levels(found) == [(Level.ERROR, "callback_url")]
    assert kind in found[0].message and "PUBLIC_URL" in found[0].hint


def test_a_host_name_resolving_to_a_private_address_is_an_error():
    # a real resolver for localhost; an injected one for a name that resolves privately
    assert ipaddress.ip_address("127.0.0.1") in resolve_host("localhost")
    found = classify_callback_url(
        "https://shop.internal/cb", resolve=lambda host: [ipaddress.ip_address("10.0.0.7")]
    )
    assert "shop.internal resolves to 10.0.0.7, a private-network address" in found[0].message


def test_a_public_address_has_no_finding():
    assert classify_callback_url("https://93.184.216.34/cb") == []


def test_tor_and_non_http_urls_are_errors_and_not_probed():
    for url in ("https://shopabcdefghijklmno.onion/cb", "ftp://shop.example/cb", "callback"):
        found = check_callback_url(url, key=KEY)
        assert levels(found) == [(Level.ERROR, "callback_url")], url
    assert "TOR" in check_callback_url("http://x.onion/cb", key=KEY)[0].message


def test_a_name_that_does_not_resolve_is_an_error_and_not_probed():
    found = check_callback_url("https://shop.invalid/cb", key=KEY)
    assert levels(found) == [(Level.ERROR, "callback_url")]
    assert "does not resolve" in found[0].message


def test_plain_http_is_a_warning():
    found = classify_callback_url("http://93.184.216.34/cb")
    assert levels(found) == [(Level.WARNING, "callback_url")]


# -- the probe ----------------------------------------------------------------


def test_the_plugin_answering_the_probe_is_ok():
    with serve(plugin_like()) as (root, seen):
        found = probe(root + PATH)
    assert found.level is Level.OK
    request = seen.requests[0]
    assert request["path"] == PATH
    assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"


def test_loopback_is_flagged_even_when_the_probe_succeeds():
    with serve(plugin_like()) as (root, _):
        found = check_callback_url(root + PATH, key=KEY, timeout=FAST)
    assert levels(found) == [
        (Level.WARNING, "callback_url"),  # plain http
        (Level.ERROR, "callback_url"),  # loopback
        (Level.OK, "callback_url"),  # the probe reached the plugin
    ]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_http_redirected_to_https_is_an_error(status):
    def redirect(path, headers, body):
        return Answer(status, b"", {"Location": f"https://shop.example{path}"})

    with serve(redirect) as (root, seen):
        found = probe(root + PATH)
    assert found.level is Level.ERROR
    assert f"HTTP {status}" in found.message and f"https://shop.example{PATH}" in found.message
    assert "cancels" in found.message and "https" in found.hint
    assert len(seen.requests) == 1  # not followed, as the provider does not


def test_a_redirect_elsewhere_is_an_error_too():
    def redirect(path, headers, body):
        return Answer(302, b"", {"Location": "/login"})

    with serve(redirect) as (root, _):
        found = probe(root + PATH)
    assert found.level is Level.ERROR and "/login" in found.message and "exempt" in found.hint


@pytest.mark.parametrize("status", [401, 403])
def test_password_protection_is_an_error(status):
    def protected(path, headers, body):
        return Answer(status, b"Authorization Required", {"WWW-Authenticate": 'Basic realm="x"'})

    with serve(protected) as (root, _):
        found = probe(root + PATH)
    assert found.level is Level.ERROR and f"HTTP {status}" in found.message
    assert "Exempt" in found.hint


@pytest.mark.parametrize(
    "answer",
    [
        Answer(200, b"OK"),  # a catch-all page or another app
        html_answer(200),  # the storefront
        json_answer('{"cryptopay_probe": "ok", "proof": "forged"}'),  # replayed shape
        html_answer(404),  # gateway inactive or wrong path
    ],
)
def test_an_answer_other_than_the_plugins_is_an_error(answer):
    with serve(lambda *a: answer) as (root, _):
        found = probe(root + PATH)
    assert found.level is Level.ERROR
    assert "not as this plugin" in found.message and "PUBLIC_URL" in found.hint


def test_another_deployment_of_the_plugin_is_an_error():
    with serve(plugin_like("another deployment's secret")) as (root, _):
        found = probe(root + PATH)
    assert found.level is Level.ERROR and "not as this plugin" in found.message


def test_a_404_while_the_gateway_is_being_activated_is_only_a_warning():
    with serve(lambda *a: Answer(404, b"")) as (root, _):
        found = probe(root + PATH, pending_activation=True)
    assert found.level is Level.WARNING and "cryptopay_check" in found.hint


def test_a_server_error_is_a_warning():
    with serve(lambda *a: Answer(503, b"storage unavailable")) as (root, _):
        found = probe(root + PATH)
    assert found.level is Level.WARNING and "HTTP 503" in found.message


def test_nothing_listening_is_a_warning():
    found = probe(f"http://127.0.0.1:{closed_port()}{PATH}")
    assert found.level is Level.WARNING and "could not connect" in found.message


def test_a_certificate_from_an_unknown_ca_is_an_error(tls):
    with serve(plugin_like(), tls=tls) as (root, seen):
        found = probe(root + PATH)
    assert found.level is Level.ERROR
    assert "would refuse the TLS certificate" in found.message
    assert "certificate refused" in found.message and "public CA" in found.hint
    assert seen.requests == []


def test_the_same_server_with_a_trusted_certificate_is_ok(tls, ca, tmp_path):
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with serve(plugin_like(), tls=tls) as (root, _):
        assert probe(root + PATH, verify=str(bundle)).level is Level.OK
    # a certificate for another name is refused even from a trusted CA
    with serve(plugin_like(), tls=_context_for(ca, "shop.example")) as (root, _):
        found = probe(root + PATH, verify=str(bundle))
    assert found.level is Level.ERROR and "mismatch" in found.message.lower()


def _context_for(ca, name):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return context
