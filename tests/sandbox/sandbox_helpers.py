"""Helpers for the sandbox tests: a callback listener and small HTTP helpers.
Everything talks real HTTP on loopback with ``requests``."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import requests

from saleor_cryptopay.providers.coinpay_th_auth import auth_fields
from saleor_cryptopay.sandbox import SandboxServer

FAST = 0.0005  # time_scale: the 1-minute retry becomes 30 ms
CP24_KEY = "sandbox-coinpay24-key"
TH_KEY, TH_SECRET = "sandbox-th-key", "sandbox-th-secret"

# strictly increasing across the whole test run (and across sandbox restarts)
_nonces = itertools.count(time.time_ns() // 1000)
_nonce_lock = threading.Lock()


def next_nonce() -> int:
    with _nonce_lock:
        return next(_nonces)


class Listener:
    """A tiny merchant endpoint recording every POST.

    ``respond(*statuses)`` queues the status codes of the next answers
    (then 200 again)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self._queue: deque[int] = deque()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                with outer.cond:
                    status = outer._queue.popleft() if outer._queue else 200
                    outer.records.append(
                        {
                            "path": self.path,
                            "content_type": self.headers.get("Content-Type", ""),
                            "raw": raw,
                            "pairs": parse_qsl(raw, keep_blank_values=True),
                            "answered": status,
                        }
                    )
                    outer.cond.notify_all()
                body = b"ok" if status == 200 else b"nope"
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "https://example.invalid/")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/callback"

    def respond(self, *statuses: int) -> None:
        with self.cond:
            self._queue.extend(statuses)

    def wait(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.records) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.records)}/{n} posts received")
                self.cond.wait(left)
            return list(self.records)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def cp24(
    sb: SandboxServer,
    path: str,
    *,
    json: Any = None,
    form: Any = None,
    method: str = "POST",
    key: str | None = CP24_KEY,
) -> requests.Response:
    """Call the CoinPay24 API: JSON body by default, a form body with ``form``."""
    url = sb.coinpay24_base + path
    if form is not None:
        data = dict(form)
        if key is not None:
            data.setdefault("api_key", key)
        return requests.request(method, url, data=data, timeout=10)
    body = dict(json or {})
    if key is not None:
        body.setdefault("api_key", key)
    return requests.request(method, url, json=body, timeout=10)


def create_invoice(sb: SandboxServer, **fields: Any) -> dict[str, Any]:
    body = {"order_id": "ORD-1", "price_amount": "100.00", "price_currency": "USD", **fields}
    resp = cp24(sb, "/invoices/create", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def th(
    sb: SandboxServer,
    action: str,
    *,
    multipart: bool = False,
    key: str = TH_KEY,
    secret: str = TH_SECRET,
    nonce: int | None = None,
    **fields: Any,
) -> requests.Response:
    """Call the CoinPay.in.th API with a valid signature (unless told otherwise)."""
    data = {**auth_fields(key, next_nonce() if nonce is None else nonce, secret), **fields}
    data = {k: str(v) for k, v in data.items()}
    url = f"{sb.coinpay_th_base}/{action}/"
    if multipart:
        files = {k: (None, v) for k, v in data.items()}
        return requests.post(url, files=files, timeout=10)
    return requests.post(url, data=data, timeout=10)


def th_ok(sb: SandboxServer, action: str, **fields: Any) -> dict[str, Any]:
    resp = th(sb, action, **fields)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True, body
    return body


def control(
    sb: SandboxServer, path: str, payload: Any = None, method: str = "POST"
) -> requests.Response:
    return requests.request(method, sb.url + "/_sandbox" + path, json=payload, timeout=10)
