"""``cryptopay-app`` as a merchant runs it: a real process serving with
waitress on a SQLite file in the working directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from .fake_saleor import TOKEN

KEY = "3q2-7xHcWZ0ubdMlJdC1wWIbAn3ct6Zs1y0B5mF5o8s="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "APP_URL": f"http://127.0.0.1:{port}",
        "CRYPTOPAY_APP_SECRET_KEY": KEY,
        "DJANGO_SETTINGS_MODULE": "saleor_cryptopay.app.settings",
    }
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "saleor_cryptopay.app.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/api/manifest", timeout=1)
            break
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or migrating
            time.sleep(0.2)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "saleor_cryptopay.app.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    yield url, cli, tmp_path
    proc.terminate()
    output = proc.communicate(timeout=10)[0].decode()
    assert TOKEN not in output


def test_serve_install_configure(served, saleor, sb):
    url, cli, cwd = served
    manifest = requests.get(f"{url}/api/manifest", timeout=5).json()
    assert manifest["tokenTargetUrl"] == f"{url}/api/register"
    assert (cwd / "cryptopay-app.sqlite3").exists()
    assert requests.get(f"{url}/api/manifest/", timeout=5).status_code == 404  # no redirects

    registered = requests.post(
        manifest["tokenTargetUrl"],
        json={"auth_token": TOKEN},
        headers={"Saleor-Api-Url": saleor.api_url},
        timeout=10,
    )
    assert registered.status_code == 200

    base = ["configure", "--saleor-api-url", saleor.api_url, "--channel", "main"]
    base += ["--provider", "coinpay24", "--api-base-url", sb.coinpay24_base]
    wrong = cli(*base, "--api-key", "not-the-key")
    assert wrong.returncode == 2 and "refused the credentials" in wrong.stderr
    assert "not-the-key" not in wrong.stderr + wrong.stdout
    bad = cli(*base, "--api-key", "k", "--underpaid-tolerance-percent", "50")
    assert bad.returncode == 2 and "--underpaid-tolerance-percent" in bad.stderr
    # the App always creates the order once paid: before_payment is refused, not ignored
    before = cli(*base, "--api-key", sb.coinpay24_api_key, "--order-creation", "before_payment")
    assert before.returncode == 2 and "--order-creation" in before.stderr, before.stderr
    assert "plugin edition only" in before.stderr
    good = cli(*base, "--api-key", sb.coinpay24_api_key)
    assert good.returncode == 0, good.stderr
    assert f"{url}/api/callbacks/" in good.stdout and "checked with the provider" in good.stdout
    assert sb.coinpay24_api_key not in good.stdout
    # the key is stored encrypted
    assert sb.coinpay24_api_key.encode() not in (cwd / "cryptopay-app.sqlite3").read_bytes()

    # the same core checks as the plugin's: the key works, the callback URL is
    # the App's own (the signed probe is answered), but the provider never
    # calls loopback, so that is an error and the command fails
    checked = cli("check")
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert "OK api_key: CoinPay24 accepted" in checked.stdout, checked.stdout
    assert "loopback" in checked.stdout and "reaches this plugin" in checked.stdout
    assert sb.coinpay24_api_key not in checked.stdout + checked.stderr

    assert "Nothing needs attention." in cli("tasks").stdout
    assert "coinpay24 @ main" in cli("reconcile").stdout
    missing = cli("replay", "999")
    assert missing.returncode == 2 and "no stored callback #999" in missing.stderr


def test_serve_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "CRYPTOPAY_APP_SECRET_KEY": ""}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "saleor_cryptopay.app.cli", "serve", "--port", "9"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Fernet.generate_key" in result.stderr
