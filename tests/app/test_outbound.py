"""Calls the App makes to Saleor go through ``outbound.call``: the outbox,
the JWKS refetch and TLS, over real sockets on loopback."""

from __future__ import annotations

import contextlib
import gzip
import json
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connections

from saleor_cryptopay.app import outbound, outbox
from saleor_cryptopay.app.models import Installation, OutboxReport

from .fake_saleor import SigningKey
from .hostile_servers import DrippingServer
from .test_install_and_auth import GATEWAY_INIT, gateway_payload
from .test_payment_flow import start


def test_an_outbox_report_to_a_dripping_saleor_is_kept_at_the_deadline(
    configure, hook, sb, saleor, settings
):
    configure()
    _, answer = start(hook)
    saleor.down = True
    sb.act("coinpay24", answer["pspReference"], "pay")
    sb.wait_for_callbacks(1, provider="coinpay24")
    assert OutboxReport.objects.filter(done_at=None).exists()
    settings.SALEOR_CALL_DEADLINE = 1
    with DrippingServer(interval=0.2) as drip:
        Installation.objects.update(saleor_api_url=drip.url)
        lines: list[str] = []

        def run() -> None:
            try:
                lines.extend(outbox.flush())
            finally:
                connections.close_all()

        sender = threading.Thread(target=run, daemon=True)
        sender.start()
        sender.join(60)  # without a total deadline the drip holds it for good
        assert not sender.is_alive()
    pending = OutboxReport.objects.filter(done_at=None).order_by("pk")
    assert "no complete answer" in pending[0].last_error
    assert any(line.startswith("kept") for line in lines)


def test_a_huge_jwks_is_not_taken_at_a_refetch(configure, hook, saleor, installed):
    configure()
    saleor.key = SigningKey("saleor-key-2")
    saleor.published = [saleor.key]
    saleor.jwks_padding = 2 * 1024 * 1024
    installed.jwks_fetched_at = datetime.now(UTC) - timedelta(minutes=5)
    installed.save()
    assert hook(GATEWAY_INIT, gateway_payload()).status_code == 401
    installed.refresh_from_db()
    assert [k["kid"] for k in installed.jwks["keys"]] == ["saleor-key-1"]
    assert "padding" not in installed.jwks


@pytest.fixture
def ca(tmp_path, monkeypatch):
    """A private CA, and a server context with its certificate for 127.0.0.1."""
    trustme = pytest.importorskip("trustme")
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    return str(ca_file), context


@pytest.fixture
def tls_server(ca):
    ca_file, context = ca
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            raw = json.dumps({"keys": []}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/jwks", ca_file, hits
    httpd.shutdown()
    httpd.server_close()


def test_tls_is_verified_and_a_private_ca_bundle_honoured(tls_server, settings, monkeypatch):
    url, ca_file, hits = tls_server
    settings.ALLOW_LOCAL_SALEOR = True
    with pytest.raises(outbound.Unreachable):
        outbound.call("GET", url)  # a certificate no public CA signed
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
    assert outbound.call("GET", url).json() == {"keys": []}
    settings.ALLOW_LOCAL_SALEOR = False
    with pytest.raises(outbound.TargetRefused):
        outbound.call("GET", url)
    assert hits == ["/jwks"]  # the refused call never connected


def test_the_deadline_holds_over_tls(ca, settings, monkeypatch):
    ca_file, context = ca
    settings.ALLOW_LOCAL_SALEOR = True
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
    with DrippingServer(interval=0.2, tls=context) as drip:
        outcome: list[BaseException] = []

        def run() -> None:
            try:
                outbound.call("POST", drip.url, json_body={}, deadline=1)
            except outbound.Unreachable as exc:
                outcome.append(exc)

        caller = threading.Thread(target=run, daemon=True)
        caller.start()
        caller.join(30)  # the drip never ends on its own
        assert not caller.is_alive()
        assert "no complete answer" in str(outcome[0])


def test_the_connected_address_is_checked_again(saleor, settings, monkeypatch):
    # a name that resolved to a public address, then to loopback at connect
    # time (DNS rebinding): stand-in for the first answer, a real connection
    settings.ALLOW_LOCAL_SALEOR = False
    monkeypatch.setattr(outbound, "_check_resolved", lambda host, timeout: None)
    with pytest.raises(outbound.TargetRefused):
        outbound.call("GET", saleor.api_url.replace("graphql/", ".well-known/jwks.json"))
    assert saleor.jwks_fetches == 0  # connected, then closed before a byte was sent


def test_a_compressed_answer_is_refused_unread(settings):
    # 10 MB of zeros in about 10 KB: under any size cap until inflated
    bomb = gzip.compress(b"\0" * (10 * 1024 * 1024))
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            asked.append(self.headers.get("Accept-Encoding", ""))
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(bomb)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(bomb)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    settings.ALLOW_LOCAL_SALEOR = True
    try:
        with pytest.raises(outbound.Unreachable, match="compressed"):
            outbound.call("GET", f"http://127.0.0.1:{httpd.server_address[1]}/")
        assert asked == ["identity"]
    finally:
        httpd.shutdown()
        httpd.server_close()
