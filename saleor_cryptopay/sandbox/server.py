"""The HTTP server and ``SandboxServer``, the in-process handle tests use."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from . import coinpay24_api, coinpay_th_api, icoinpay_api, invoices, orders, pages
from .callbacks import Dispatcher
from .control_api import final_count, list_callbacks, run_action
from .control_api import handle as control_handle
from .faults import ANSWER_LOST, Fault, FaultInjector
from .httputil import BadRequest, Request, Response, html_response, json_response, redirect
from .quotas import KeyQuotas
from .state import SandboxConfig, Store

log = logging.getLogger("saleor_cryptopay.sandbox")

MAX_BODY = 10 * 1024 * 1024
DEFAULT_COINPAY24_KEY = "sandbox-coinpay24-key"
DEFAULT_TH_CREDENTIALS = {"sandbox-th-key": "sandbox-th-secret"}
DEFAULT_ICOINPAY_KEY = "sandbox-icoinpay-key"
ICOINPAY_CODES = frozenset({401, 402, 403, 404, 405, 410, 450, 456})
DROP = 0  # Response.status that means: close the connection, answer nothing

_HTML_502 = (
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients with a Session expect
    server_version = "CryptoPaySandbox/0.1"
    timeout = 30  # idle keep-alive connections give their thread back
    server: _HTTPServer
    # headers and body go out as separate writes: without this, Nagle's
    # algorithm and delayed ACKs hold every answer back ~40 ms
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET  # noqa: N815

    def _handle(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send(json_response({"error": "bad Content-Length"}, 413))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        req = Request(
            method=self.command,
            path=unquote(url.path),
            query=parse_qsl(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            resp = self.server.sandbox.dispatch(req)
        except BadRequest as exc:
            resp = json_response(
                {
                    "message": str(exc),
                    "reason": "BadRequest",
                    "error_message": str(exc),
                    "success": False,
                    "error": str(exc),
                },
                400,
            )
        except Exception:
            log.exception("sandbox error on %s %s", self.command, self.path)
            resp = json_response(
                {
                    "message": "Internal sandbox error",
                    "reason": "InternalError",
                    "error_message": "Internal sandbox error",
                    "success": False,
                    "error": "Internal sandbox error",
                },
                500,
            )
        self._send(resp)

    def _send(self, resp: Response) -> None:
        if resp.status == DROP:  # the answer is lost: the client sees the connection close
            self.close_connection = True
            return
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if self.server.sandbox.stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        if not resp.drip:
            self.wfile.write(resp.body)
            return
        for i in range(len(resp.body)):
            self.wfile.write(resp.body[i : i + 1])
            self.wfile.flush()
            if self.server.sandbox.stopping or not self.server.sandbox.pause(resp.drip):
                self.close_connection = True
                return

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.info("%s %s", self.address_string(), format % args)


class _HTTPServer(ThreadingHTTPServer):
    # Handler threads are joined on close; open keep-alive sockets are shut
    # down first so an idle client cannot hold stop() up.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)


class SandboxServer:
    """A local CoinPay24 + CoinPay.in.th look-alike.

    ``time_scale`` multiplies callback retry intervals (0.001 turns the
    one-minute retry into 60 ms) and, with ``rate_limit``, the quota windows;
    invoice/order lifetimes are set directly with ``invoice_ttl_seconds`` /
    ``order_ttl_seconds``. ``rate_limit`` enforces the providers' published
    per-key quotas (CoinPay24: 200 calls/min, 1000 calls/h, 1000 invoices/h);
    ``rate_limit_per_minute`` is a flat per-provider limit instead.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        time_scale: float = 1.0,
        state_file: Optional[str] = None,
        coinpay24_api_keys: tuple[str, ...] | list[str] = (DEFAULT_COINPAY24_KEY,),
        coinpay_th_credentials: Optional[dict[str, str]] = None,
        invoice_ttl_seconds: float = 1200,
        order_ttl_seconds: float = 900,
        delay: float = 0.0,
        rate_limit_per_minute: Optional[int] = None,
        rate_limit: bool = False,
        callback_timeout: float = 20.0,
        public_url: Optional[str] = None,
        icoinpay_api_keys: tuple[str, ...] | list[str] = (DEFAULT_ICOINPAY_KEY,),
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.host, self._port = host, port
        self.public_url = public_url.rstrip("/") if public_url else None
        self.config = SandboxConfig(
            coinpay24_api_keys=tuple(coinpay24_api_keys),
            coinpay_th_credentials=dict(
                DEFAULT_TH_CREDENTIALS if coinpay_th_credentials is None else coinpay_th_credentials
            ),
            invoice_ttl_seconds=invoice_ttl_seconds,
            order_ttl_seconds=order_ttl_seconds,
            time_scale=time_scale,
            callback_timeout=callback_timeout,
            delay=delay,
            rate_limit_per_minute=rate_limit_per_minute,
            icoinpay_api_keys=tuple(icoinpay_api_keys),
        )
        self.store = Store(self.config, state_file)
        self.faults = FaultInjector(rate_limit_per_minute)
        # the providers' published per-key quotas, windows scaled by time_scale
        self.quotas = KeyQuotas(time_scale) if rate_limit else None
        self.dispatcher = Dispatcher(self.store)
        self._httpd: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    # -- lifecycle --------------------------------------------------------
    def start(self) -> SandboxServer:
        if self._httpd is not None:
            raise RuntimeError("sandbox already started")
        self._stopping.clear()
        self.store.load()
        self._httpd = _HTTPServer((self.host, self._port), self)
        self.config.base_url = self.url
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-http",
            daemon=True,
        )
        self._thread.start()
        self.dispatcher.start()
        log.info("sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and join the HTTP, handler and callback threads."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()  # returns once serve_forever has exited
        self._httpd.drop_connections()
        self._httpd.server_close()  # joins the handler threads
        assert self._thread is not None  # noqa: S101
        self._thread.join()
        self.dispatcher.stop()
        self.store.save()
        self._httpd, self._thread = None, None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def threads(self) -> list[threading.Thread]:
        """The long-lived threads stop() joins (for lifecycle tests)."""
        out = [t for t in (self._thread, self.dispatcher._thread) if t is not None]
        return out

    # -- addresses --------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            return self._port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        if self.public_url:
            return self.public_url
        host = self.host
        if host in ("0.0.0.0", "", "::"):  # noqa: S104 - a bind-all address is not a URL
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def coinpay24_base(self) -> str:
        return self.url + coinpay24_api.BASE

    @property
    def coinpay_th_base(self) -> str:
        return self.url + coinpay_th_api.BASE

    @property
    def icoinpay_base(self) -> str:
        return self.url + icoinpay_api.BASE

    @property
    def icoinpay_api_key(self) -> str:
        return self.config.icoinpay_api_keys[0]

    @property
    def coinpay24_api_key(self) -> str:
        return self.config.coinpay24_api_keys[0]

    @property
    def coinpay_th_key(self) -> str:
        return next(iter(self.config.coinpay_th_credentials))

    @property
    def coinpay_th_secret(self) -> str:
        return self.config.coinpay_th_credentials[self.coinpay_th_key]

    # -- routing ----------------------------------------------------------
    def dispatch(self, req: Request) -> Response:
        path = req.path
        if path.startswith(coinpay24_api.BASE + "/"):
            sub = path[len(coinpay24_api.BASE) :]
            name = coinpay24_api.endpoint(req.method, sub) or "unknown"
            return self._provider_call(
                "coinpay24",
                name,
                (name,),
                lambda: coinpay24_api.handle(self.store, req, sub),
                key=lambda: coinpay24_api.api_key_of(req),
            )
        if path.startswith(coinpay_th_api.BASE + "/"):
            sub = path[len(coinpay_th_api.BASE) :]
            action = coinpay_th_api.action_of(sub) or "unknown"
            return self._provider_call(
                "coinpay_th",
                action,
                coinpay_th_api.names(action),
                lambda: coinpay_th_api.handle(self.store, req, sub),
            )
        if path.startswith(icoinpay_api.BASE + "/"):
            sub = path[len(icoinpay_api.BASE) :]
            method = icoinpay_api.method_of(sub) or "unknown"
            return self._provider_call(
                "icoinpay",
                method,
                icoinpay_api.names(method),
                lambda: icoinpay_api.handle(self.store, req, sub),
            )
        if req.method in ("GET", "HEAD"):
            page = self._page(req)
            if page is not None:
                return page
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            return control_handle(self, req)
        if path == "/":
            return redirect("/_sandbox/", 302)
        return json_response({"error": "not found"}, 404)

    def _page(self, req: Request) -> Optional[Response]:
        parts = [p for p in req.path.split("/") if p]
        error = dict(req.query).get("error")
        if len(parts) == 3 and parts[:2] == ["coinpay24", "invoice"]:
            invoices.expire_due(self.store)
            with self.store.lock:
                inv_id = self.store.invoice_tokens.get(parts[2])
                inv = self.store.invoices.get(inv_id) if inv_id else None
                if inv is None:
                    return html_response(pages.not_found("No such invoice."), 404)
                return html_response(pages.invoice_page(self.store, inv, error))
        if len(parts) == 3 and parts[:2] == ["coinpay_th", "order"]:
            orders.expire_due(self.store)
            with self.store.lock:
                oid = self.store.order_hashes.get(parts[2])
                order = self.store.orders.get(oid) if oid else None
                if order is None:
                    return html_response(pages.not_found("No such order."), 404)
                return html_response(pages.order_page(self.store, order, req.path, error))
        if len(parts) == 3 and parts[:2] == ["coinpay_th", "pay"]:
            with self.store.lock:
                link = self.store.paylinks.get(parts[2])
                if link is None:
                    return html_response(pages.not_found("No such payment link."), 404)
                order = orders.paylink_order(self.store, link)
                return html_response(pages.order_page(self.store, order, req.path, error))
        return None

    def _provider_call(
        self,
        provider: str,
        name: str,
        names: tuple[str, ...],
        call: Callable[[], Response],
        key: Callable[[], str] = str,
    ) -> Response:
        self.store.count_request(provider, name)
        fault = self.faults.take(provider, names)
        if fault is not None and fault.mode in ANSWER_LOST:
            return self._answer_lost(provider, fault, call())
        if fault is not None and fault.mode != "delay":
            return self._fault_response(provider, fault)
        retry_after = self.faults.throttle(provider)
        if retry_after is None and self.quotas is not None:
            retry_after = self.quotas.take(provider, key(), name)
        if retry_after is not None:
            return self._too_many(provider, retry_after)
        if fault is not None:  # delay
            self._sleep(fault.seconds)
        if self.config.delay:
            self._sleep(self.config.delay)
        return call()

    def _answer_lost(self, provider: str, fault: Fault, real: Response) -> Response:
        """Processed for real, then the answer is lost: what a client sees when
        the provider acted but the response never arrived."""
        if provider == "icoinpay":
            icoinpay_api.mark_lost(self.store, real.body)
        if fault.mode == "drop":
            return Response(DROP)
        if fault.mode == "hang":
            self._sleep(fault.seconds)  # past the client's read timeout
            return real
        if fault.mode == "odd_status":  # well-formed JSON, a status no doc lists
            return json_response({"status": fault.status, "message": "Sandbox fault"})
        if fault.mode == "proxy_page":  # a proxy in front answers for the provider
            return html_response(_HTML_502, fault.status)
        if fault.mode == "drip":  # one byte every ``seconds``: no read timeout fires
            return Response(real.status, real.body, real.content_type, drip=fault.seconds)
        return Response(200, real.body[: max(1, len(real.body) // 2)], "application/json")

    def pause(self, seconds: float) -> bool:
        """Wait; False when the server is stopping."""
        return not self._stopping.wait(max(0.0, seconds))

    def _sleep(self, seconds: float) -> None:
        # wakes early when the server stops, so stop() never waits on a fault
        self._stopping.wait(max(0.0, seconds))

    @staticmethod
    def _error_body(provider: str, status: int, message: str, reason: str) -> Response:
        if provider == "coinpay24":
            body: dict[str, Any] = {"message": message, "reason": reason, "error_message": message}
        elif provider == "icoinpay":
            # documented codes come in the JSON of an HTTP 200, like the real API
            http = 200 if status in ICOINPAY_CODES else status
            return json_response({"status": status, "message": message}, http)
        else:
            body = {"success": False, "error": message}
        return json_response(body, status)

    def _too_many(self, provider: str, retry_after: float) -> Response:
        resp = self._error_body(provider, 429, "Too Many Requests", "RateLimitExceeded")
        value = int(retry_after) if float(retry_after).is_integer() else retry_after
        resp.headers["Retry-After"] = str(value)
        return resp

    def _fault_response(self, provider: str, fault: Fault) -> Response:
        if fault.mode == "status":
            return self._error_body(
                provider, fault.status, f"Sandbox fault: HTTP {fault.status}", "SandboxFault"
            )
        if fault.mode == "html":
            return html_response(_HTML_502, 502)
        if fault.mode == "empty":
            return Response(500, b"", "application/json")
        if fault.mode == "redirect":
            return redirect(fault.location, 307)
        return self._too_many(provider, fault.retry_after)  # rate_limit

    # -- Python control helpers (no HTTP needed) ---------------------------
    def act(self, provider: str, ref: Any, action: str, **opts: Any) -> dict[str, Any]:
        """Run a control action (``pay``, ``underpay``, ...); raises ActionError."""
        return run_action(self.store, provider, ref, action, opts)

    def callbacks(
        self, provider: Optional[str] = None, invoice: Any = None, state: Optional[str] = None
    ) -> list[dict[str, Any]]:
        return list_callbacks(self.store, provider=provider, ref=invoice, state=state)

    def wait_for_callbacks(
        self,
        n: int,
        timeout: float = 10.0,
        *,
        provider: Optional[str] = None,
        invoice: Any = None,
    ) -> list[dict[str, Any]]:
        """Wait until at least ``n`` matching deliveries reached a final state
        (delivered, cancelled or exhausted); returns them. TimeoutError if not."""
        deadline = time.monotonic() + timeout
        with self.store.lock:
            while True:
                done = final_count(self.store, provider=provider, ref=invoice)
                if len(done) >= n:
                    return done
                left = deadline - time.monotonic()
                if left <= 0:
                    states = [(d["id"], d["state"]) for d in self.callbacks(provider, invoice)]
                    raise TimeoutError(
                        f"{len(done)}/{n} callbacks final after {timeout}s: {states}"
                    )
                self.store.cond.wait(min(left, 0.05))

    def hold_callbacks(self, held: bool = True) -> None:
        """Queue callbacks without sending them (False: send what is due)."""
        with self.store.mutate():
            self.store.config.hold_callbacks = held

    def retry_callback(self, delivery_id: int) -> None:
        self.dispatcher.retry_now(delivery_id)

    def request_counts(self) -> dict[str, dict[str, int]]:
        return self.store.request_counts()

    def reset(self) -> None:
        """Forget everything: invoices, orders, callbacks, nonces, counters, faults."""
        self.faults.clear()
        if self.quotas is not None:
            self.quotas.clear()
        self.store.reset()

    def inject_fault(
        self,
        provider: str,
        mode: str,
        count: int = 1,
        *,
        seconds: float = 1.0,
        status: int = 503,
        retry_after: float = 1,
        endpoint: Optional[str] = None,
        location: Optional[str] = None,
    ) -> dict[str, Any]:
        fault = Fault(provider, mode, count, seconds, status, retry_after, endpoint)
        if location:
            fault.location = location
        self.faults.add(fault)
        return asdict(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    def payouts(self) -> list[dict[str, Any]]:
        """Every iCoinPay payout carried out, oldest first."""
        with self.store.lock:
            return [p.public() for p in sorted(self.store.payouts.values(), key=lambda p: p.id)]

    def wallet_balance(self, currency: str = "BTC", key: Optional[str] = None) -> int:
        """A key's iCoinPay balance in base units."""
        with self.store.lock:
            return self.store.wallet(key or self.icoinpay_api_key).get(currency.upper(), 0)

    def set_wallet(
        self,
        *,
        currency: str = "BTC",
        balance: Optional[int] = None,
        key: Optional[str] = None,
        send_limit: Optional[int] = None,
        unlinked: tuple[str, ...] = (),
    ) -> None:
        """Set a balance (base units), the per-send limit (450 above it; 0
        removes it), or addresses that belong to no iCoinPay user (456)."""
        with self.store.mutate():
            if balance is not None:
                self.store.wallet(key or self.icoinpay_api_key)[currency.upper()] = int(balance)
            if send_limit is not None:
                self.store.send_limit = int(send_limit) or None
            self.store.unlinked.update(unlinked)

    def advance_time(self, seconds: float) -> None:
        """Move the sandbox clock forward (expiry without waiting)."""
        with self.store.mutate():
            self.store.time_offset += seconds
        invoices.expire_due(self.store)
        orders.expire_due(self.store)

    def invoices(self) -> list[dict[str, Any]]:
        invoices.expire_due(self.store)
        with self.store.lock:
            return [
                {
                    **invoices.invoice_json(self.store, i),
                    "callback_url": i.callback_url,
                    "title": i.title,
                    "description": i.description,
                }
                for i in sorted(self.store.invoices.values(), key=lambda i: i.id)
            ]

    def orders(self) -> list[dict[str, Any]]:
        orders.expire_due(self.store)
        with self.store.lock:
            return [
                {
                    **orders.list_json(o),
                    "address": o.address,
                    "ipn": o.ipn,
                    "expire_at": orders.th_date(o.expire_at),
                }
                for o in sorted(self.store.orders.values(), key=lambda o: o.id)
            ]
