"""``cryptopay-app`` as a merchant runs it: a real process serving with
waitress on a SQLite file in the working directory."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from ..app_process import AppProcess
from .fake_saleor import TOKEN


@pytest.fixture
def served(tmp_path):
    app = AppProcess(tmp_path).start()
    yield app
    app.stop()
    assert TOKEN not in app.log_tail(chars=10**7)


def test_serve_install_configure(served, saleor, sb):
    url, cli, cwd = served.url, served.cli, served.workdir
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
    assert "loopback" in checked.stdout and "reaches this App" in checked.stdout
    assert sb.coinpay24_api_key not in checked.stdout + checked.stderr
    # the App's words, not the plugin's (PUBLIC_URL, /plugins/, "this plugin")
    assert "plugin" not in checked.stdout.lower() and "PUBLIC_URL" not in checked.stdout
    assert "Set APP_URL to the public https address of the App" in checked.stdout

    # a CoinPay.in.th entry is not told what CoinPay24 does
    th = ["configure", "--saleor-api-url", saleor.api_url, "--channel", "th"]
    th += ["--provider", "coinpay_th", "--api-base-url", sb.coinpay_th_base]
    th += ["--api-key", sb.coinpay_th_key, "--api-secret", sb.coinpay_th_secret]
    assert cli(*th).returncode == 0
    checked = cli("check", "--provider", "coinpay_th")
    assert "coinpay_th @ th" in checked.stdout and "CoinPay24" not in checked.stdout
    assert "CoinPay.in.th does not follow the redirect" in checked.stdout, checked.stdout

    # APP_URL unset: the App runs on its default, which nobody outside reaches
    unset = cli("check", unset=("APP_URL",))
    assert unset.returncode == 2 and "ERROR APP_URL: APP_URL is not set" in unset.stdout

    assert "Nothing needs attention." in cli("tasks").stdout
    assert "coinpay24 @ main" in cli("reconcile").stdout
    missing = cli("replay", "999")
    assert missing.returncode == 2 and "no stored callback #999" in missing.stderr


def _register(url: str, saleor) -> None:
    registered = requests.post(
        f"{url}/api/register",
        json={"auth_token": TOKEN},
        headers={"Saleor-Api-Url": saleor.api_url},
        timeout=10,
    )
    assert registered.status_code == 200


def _in_a_terminal(argv: list[str], cwd, env: dict, answers: list[str]) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as its controlling terminal (where
    getpass reads), typing each answer after the prompt that asks for it."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once, nothing else
        os.chdir(cwd)
        os.execve(sys.executable, [sys.executable, *argv], env)  # noqa: S606 (no shell wanted)
    output, pending = b"", list(answers)
    deadline = time.monotonic() + 60
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        # a prompt is written after getpass turned echo off, and ends the output
        # until answered (after an answer, the output ends with a line break)
        if pending and output.endswith(b": "):
            os.write(fd, pending.pop(0).encode() + b"\n")
    os.close(fd)
    if time.monotonic() >= deadline:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_configure_reads_secrets_from_a_file_the_environment_or_a_prompt(served, saleor, sb):
    """Secrets as options are in the process list and the shell history."""
    url, cli, cwd = served.url, served.cli, served.workdir
    _register(url, saleor)
    base = ["configure", "--saleor-api-url", saleor.api_url, "--provider", "coinpay_th"]
    base += ["--api-base-url", sb.coinpay_th_base]
    key_file, secret_file = cwd / "key", cwd / "secret"
    key_file.write_text(sb.coinpay_th_key + "\n")
    secret_file.write_text(sb.coinpay_th_secret + "\n")

    by_file = cli(*base, "--channel", "c1", "--api-key-file", str(key_file),
                  "--api-secret-file", str(secret_file))  # fmt: skip
    assert by_file.returncode == 0, by_file.stderr
    assert "checked with the provider" in by_file.stdout

    env = {"CRYPTOPAY_API_KEY": sb.coinpay_th_key, "CRYPTOPAY_API_SECRET": sb.coinpay_th_secret}
    by_env = cli(*base, "--channel", "c2", extra_env=env)
    assert by_env.returncode == 0, by_env.stderr
    wrong_env = cli(*base, "--channel", "c3", "--api-key-file", str(key_file),
                    extra_env={"CRYPTOPAY_API_SECRET": "not-the-secret"})  # fmt: skip
    assert wrong_env.returncode == 2 and "refused the credentials" in wrong_env.stderr

    argv = ["-m", "saleor_cryptopay.app.cli", *base, "--channel", "c4", "--prompt"]
    code, typed = _in_a_terminal(
        argv, cwd, served.env, [sb.coinpay_th_key, sb.coinpay_th_secret, ""]
    )
    assert code == 0, typed
    assert "API key:" in typed and "API secret:" in typed and "checked with the provider" in typed
    assert sb.coinpay_th_secret not in typed  # not echoed

    both = cli(*base, "--channel", "c5", "--api-key", "k", "--api-key-file", str(key_file))
    assert both.returncode == 2 and "not both" in both.stderr
    missing = cli(*base, "--channel", "c5", "--api-key-file", str(cwd / "nope"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr

    # what the prompt stored works (the App's own check asks the provider)
    listed = cli("check", "--channel", "c4")
    assert "OK api_key: CoinPay.in.th accepted" in listed.stdout, listed.stdout


def test_serve_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "CRYPTOPAY_APP_SECRET_KEY": ""}
    result = subprocess.run(
        [sys.executable, "-m", "saleor_cryptopay.app.cli", "serve", "--port", "9"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Fernet.generate_key" in result.stderr


def test_readme_refund_wallet_and_chore_commands(served, saleor, sb):
    """The README's refund-wallet ``configure`` and the chores' options, as typed."""
    url, cli, cwd = served.url, served.cli, served.workdir
    _register(url, saleor)
    base = ["configure", "--saleor-api-url", saleor.api_url, "--channel", "default-channel"]
    base += ["--provider", "coinpay_th", "--api-key", sb.coinpay_th_key]
    base += ["--api-secret", sb.coinpay_th_secret, "--api-base-url", sb.coinpay_th_base]
    wallet = ["--icoinpay-api-base-url", sb.icoinpay_base]
    refused = cli(*base, *wallet, "--icoinpay-api-key", "not-the-key")
    assert refused.returncode == 2 and "iCoinPay refused this key" in refused.stderr
    wrong_rate = cli(*base, *wallet, "--icoinpay-api-key", sb.icoinpay_api_key,
                     "--refund-rate", "yesterday")  # fmt: skip
    assert wrong_rate.returncode == 2 and "--refund-rate" in wrong_rate.stderr
    saved = cli(*base, *wallet, "--icoinpay-api-key", sb.icoinpay_api_key,
                "--icoinpay-currency", "BTC", "--refund-rate", "current",
                "--refund-claim-days", "3", "--action-names", "docs", "--keep-percent", "50",
                "--supported-currencies", "THB", "--underpaid-tolerance-percent", "2",
                "--invoice-title", "{shop}", "--invoice-description", "Pay {purchase}",
                "--reconcile-calls-per-run", "7")  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    # and the plugin's fields the README lists, on an inactive CoinPay24 entry
    inactive = cli("configure", "--saleor-api-url", saleor.api_url, "--channel", "other",
                   "--provider", "coinpay24", "--api-key", sb.coinpay24_api_key,
                   "--api-base-url", sb.coinpay24_base, "--white-label-currency", "LTC",
                   "--inactive", "--no-check")  # fmt: skip
    assert inactive.returncode == 0, inactive.stderr
    with sqlite3.connect(cwd / "cryptopay-app.sqlite3") as db:
        rows = db.execute(
            "SELECT channel_slug, active, `values` FROM cryptopay_app_channelconfiguration"
        )
        stored = {slug: (active, json.loads(values)) for slug, active, values in rows}
    active, th = stored["default-channel"]
    assert active and "icoinpay_api_key" not in th and "api_secret" not in th
    expected = {
        "icoinpay_currency": "BTC",
        "refund_rate": "current",
        "refund_claim_days": "3",
        "action_names": "docs",
        "keep_percent": "50",
        "supported_currencies": "THB",
        "underpaid_tolerance_percent": "2",
        "invoice_title": "{shop}",
        "invoice_description": "Pay {purchase}",
        "reconcile_calls_per_run": "7",
    }
    assert {k: str(th[k]) for k in expected} == expected
    active, cp24 = stored["other"]
    assert not active and cp24["white_label_currency"] == "LTC"
    assert "No active channel configuration." in cli("check", "--channel", "other").stdout

    # the chores' filters: only what was asked for is reconciled
    mine = ["--saleor-api-url", saleor.api_url, "--channel", "default-channel"]
    dry = cli("reconcile", *mine, "--provider", "coinpay_th", "--dry-run")
    assert dry.returncode == 0 and "coinpay_th @ default-channel" in dry.stdout, dry.stdout
    other = cli("reconcile", *mine, "--provider", "coinpay24", "--dry-run")
    assert "No active channel configuration." in other.stdout, other.stdout
    assert "Nothing to send." in cli("payouts", "--limit", "5").stdout
    assert "Nothing needs attention." in cli("tasks", "--all").stdout
    assert "would be pruned before" in cli("prune", "--days", "90", "--dry-run").stdout
