"""Server lifecycle, the public Python API and the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
import requests

from saleor_cryptopay.sandbox import SandboxServer
from saleor_cryptopay.sandbox.callbacks import MAX_ATTEMPTS, retry_delay
from saleor_cryptopay.sandbox.cli import build_parser


def test_port_zero_and_base_urls() -> None:
    with SandboxServer(port=0, time_scale=0.001) as sb:
        assert sb.port > 0
        assert sb.url == f"http://127.0.0.1:{sb.port}"
        assert sb.coinpay24_base == sb.url + "/coinpay24/v1"
        assert sb.coinpay_th_base == sb.url + "/coinpay_th/api"
        resp = requests.get(sb.url + "/_sandbox/", timeout=5)
        assert resp.status_code == 200 and "sandbox" in resp.text


def _sandbox_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("sandbox-")}


def test_stop_joins_server_and_callback_threads() -> None:
    others = _sandbox_threads()  # other tests' long-lived sandboxes may be running
    sb = SandboxServer(port=0).start()
    threads = sb.threads
    assert len(threads) == 2 and all(t.is_alive() for t in threads)
    # an idle keep-alive connection must not hold stop() up
    session = requests.Session()
    session.get(sb.url + "/_sandbox/requests", timeout=5)
    sb.stop()
    assert not any(t.is_alive() for t in threads)
    assert not _sandbox_threads() - others
    sb.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(sb.url + "/_sandbox/requests", timeout=2)
    session.close()


def test_stop_interrupts_a_delay_fault() -> None:
    sb = SandboxServer(port=0).start()
    sb.inject_fault("coinpay24", "delay", seconds=30)
    result: dict[str, object] = {}

    def call() -> None:
        try:
            result["resp"] = requests.post(sb.coinpay24_base + "/invoices", json={}, timeout=10)
        except requests.RequestException as exc:
            result["exc"] = exc

    t = threading.Thread(target=call)
    t.start()
    for _ in range(200):  # wait until the request is being held
        if sb.request_counts().get("coinpay24"):
            break
        threading.Event().wait(0.01)
    sb.stop()  # must not wait 30 s
    t.join(5)
    assert not t.is_alive()


def test_retry_schedule_matches_the_docs() -> None:
    delays = [retry_delay(n) for n in range(1, MAX_ATTEMPTS + 1)]
    assert MAX_ATTEMPTS == 40
    assert delays[:5] == [60.0] * 5
    assert delays[5:10] == [300.0] * 5
    assert delays[10:15] == [600.0] * 5
    assert delays[30:35] == [5 * 3600.0] * 5
    assert delays[35:39] == [86400.0] * 4
    assert delays[39] is None  # the 40th failure ends it


def test_cli_parser_defaults() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.time_scale) == ("127.0.0.1", 8765, 1.0)
    args = build_parser().parse_args(
        ["--coinpay24-key", "a", "--coinpay24-key", "b", "--coinpay-th-key", "k:s:x"]
    )
    assert args.coinpay24_key == ["a", "b"]
    assert args.coinpay_th_key == [("k", "s:x")]


def test_python_m_runs_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "saleor_cryptopay.sandbox", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or "Control API" not in lines[-1]:
            line = proc.stdout.readline()
            assert line, "sandbox exited early"
            lines.append(line)
        text = "".join(lines)
        assert "/coinpay24/v1" in text and "/coinpay_th/api" in text
        assert "sandbox-coinpay24-key" in text and "sandbox-th-key / sandbox-th-secret" in text
        assert "/icoinpay/api/v1" in text and "sandbox-icoinpay-key" in text
        url = lines[0].split(" at ")[1].split()[0]
        assert requests.get(url + "/_sandbox/requests", timeout=5).json() == {}
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
