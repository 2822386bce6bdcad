"""Fixtures for the App edition: the App on pytest-django's live server, a
fake Saleor on loopback, the provider sandbox. Saleor-free: with Saleor
installed the suite runs under Saleor's settings, where the App is not an
installed app, so these tests are not collected there."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator

import pytest
import requests

if importlib.util.find_spec("saleor") is not None:
    collect_ignore_glob = ["test_*.py"]
else:
    from saleor_cryptopay.sandbox import SandboxServer

    from .fake_saleor import TOKEN, FakeSaleor

    @pytest.fixture(autouse=True)
    def no_deferred_reports_left():
        """A report the App sends a moment after answering (outbox.flush_later)
        must not run into the next test's database: cancel the ones still
        waiting, wait for the ones running."""
        yield
        for thread in threading.enumerate():
            if isinstance(thread, threading.Timer):
                thread.cancel()
                thread.join(30)

    @pytest.fixture(scope="session")
    def sandbox() -> Iterator[SandboxServer]:
        with SandboxServer("127.0.0.1", 0, time_scale=0.0005) as server:
            yield server

    @pytest.fixture
    def saleor() -> Iterator[FakeSaleor]:
        fake = FakeSaleor().start()
        yield fake
        fake.stop()

    @pytest.fixture
    def app(live_server, settings, transactional_db):
        """The App served over real HTTP; returns its base URL."""
        settings.ROOT_URLCONF = "saleor_cryptopay.app.urls"
        settings.APP_URL = live_server.url
        settings.ALLOWED_HOSTS = ["*"]
        settings.APPEND_SLASH = False
        settings.ALLOW_LOCAL_SALEOR = True  # the fake Saleor is on loopback
        return live_server.url

    @pytest.fixture
    def installed(app, saleor):
        """Saleor installed the App: the token went to /api/register."""
        response = requests.post(
            f"{app}/api/register",
            json={"auth_token": TOKEN},
            headers={"Saleor-Api-Url": saleor.api_url, "Saleor-Domain": "127.0.0.1"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        from saleor_cryptopay.app.models import Installation

        return Installation.objects.get(saleor_api_url=saleor.api_url)

    @pytest.fixture
    def configure(installed, saleor, sb):
        """Offer a provider in channel ``main``, pointed at the sandbox."""
        from saleor_cryptopay.app.configure import save_configuration

        def make(provider: str = "coinpay24", channel: str = "main", **values):
            if provider == "coinpay24":
                creds = {"api_key": sb.coinpay24_api_key, "api_base_url": sb.coinpay24_base}
            else:
                creds = {
                    "api_key": sb.coinpay_th_key,
                    "api_secret": sb.coinpay_th_secret,
                    "api_base_url": sb.coinpay_th_base,
                }
            config, _ = save_configuration(
                saleor_api_url=saleor.api_url,
                channel=channel,
                provider=provider,
                values={**creds, **values},
            )
            return config

        return make

    @pytest.fixture
    def hook(app, saleor):
        """POST a signed webhook as Saleor would; returns the response."""

        def send(event: str, payload: dict, *, headers: dict | None = None, body=None):
            raw = body if body is not None else json.dumps(payload).encode()
            sent = {**saleor.headers(event, raw), **(headers or {})}
            slug = event.lower().replace("_", "-")
            return requests.post(f"{app}/api/webhooks/{slug}", data=raw, headers=sent, timeout=30)

        return send
