"""A loopback HTTP server standing in for Saleor: it serves a JWKS and a
GraphQL endpoint that records the App's calls (``{app{id}}``,
``transactionEventReport``, ``checkoutComplete``) and answers as Saleor does.
Webhook payloads are signed the way Saleor signs them: a detached RS256 JWS
(``b64: false``) over the raw body."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = base64.b64encode(b"App:42").decode()
TOKEN = "saleor-app-token-" + "x" * 20


def gid(type_name: str, pk: Any = None) -> str:
    return base64.b64encode(f"{type_name}:{pk or uuid.uuid4()}".encode()).decode()


class SigningKey:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def sign(self, body: bytes) -> str:
        return jwt.api_jws.encode(
            body,
            self.private,
            algorithm="RS256",
            headers={"kid": self.kid, "b64": False, "crit": ["b64"]},
            is_payload_detached=True,
        )


class FakeSaleor:
    def __init__(self) -> None:
        self.key = SigningKey("saleor-key-1")
        self.published = [self.key]
        self.calls: list[dict[str, Any]] = []  # GraphQL requests, in order
        self.jwks_fetches = 0
        self.down = False  # answer 503 to everything GraphQL
        self.complete_errors: list[dict] = []  # checkoutComplete answers errors
        self.token = TOKEN
        self._reported: dict[tuple, str] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/.well-known/jwks.json":
                    with outer.lock:
                        outer.jwks_fetches += 1
                        keys = [k.jwk() for k in outer.published]
                    self._json(200, {"keys": keys})
                else:
                    self._json(404, {})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                status, answer = outer.graphql(body, self.headers.get("Authorization", ""))
                self._json(status, answer)

            def _json(self, status: int, data: Any) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/graphql/"

    def start(self) -> FakeSaleor:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- GraphQL -----------------------------------------------------------
    def graphql(self, body: dict, auth: str) -> tuple[int, dict]:
        query, variables = body.get("query", ""), body.get("variables") or {}
        with self.lock:
            self.calls.append(
                {"query": query, "variables": variables, "auth": auth, "down": self.down}
            )
            if self.down:
                return 503, {"errors": [{"message": "down"}]}
            if auth != f"Bearer {self.token}":
                return 200, {"data": {"app": None}, "errors": [{"message": "invalid token"}]}
            if "transactionEventReport" in query:
                return 200, {"data": {"transactionEventReport": self._report(variables)}}
            if "checkoutComplete" in query:
                errors = self.complete_errors
                order = None if errors else {"id": gid("Order"), "number": "1042"}
                return 200, {"data": {"checkoutComplete": {"order": order, "errors": errors}}}
            if "app" in query:
                return 200, {"data": {"app": {"id": APP_ID}}}
        return 400, {"errors": [{"message": "unknown query"}]}

    def _report(self, v: dict) -> dict:
        key = (v["id"], v["psp"], v["type"])
        if key in self._reported:
            if self._reported[key] != v.get("amount"):
                return {"alreadyProcessed": False, "transactionEvent": None,
                        "errors": [{"field": "amount", "code": "INCORRECT_DETAILS",
                                    "message": "different amount"}]}  # fmt: skip
            return {"alreadyProcessed": True, "transactionEvent": {"id": "e"}, "errors": []}
        self._reported[key] = v.get("amount")
        event = {"id": gid("TransactionEvent", len(self._reported)), "type": v["type"]}
        return {"alreadyProcessed": False, "transactionEvent": event, "errors": []}

    def reports(self) -> list[dict]:
        """transactionEventReport calls Saleor received (not those while down)."""
        return [c["variables"] for c in self.received() if "transactionEventReport" in c["query"]]

    def completions(self) -> list[dict]:
        return [c["variables"] for c in self.received() if "checkoutComplete" in c["query"]]

    def received(self) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if not c["down"]]

    # -- webhooks, as Saleor sends them -------------------------------------
    def headers(self, event: str, body: bytes, key: Optional[SigningKey] = None) -> dict:
        return {
            "Content-Type": "application/json",
            "Saleor-Event": event.lower(),
            "Saleor-Domain": "127.0.0.1",
            "Saleor-Api-Url": self.api_url,
            "Saleor-Signature": (key or self.key).sign(body),
        }


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


SHOP = "Main Store"  # the channel's name, what the shopper knows


def source(checkout_pk: Optional[str] = None, channel: str = "main", currency: str = "USD"):
    return {
        "__typename": "Checkout",
        "id": gid("Checkout", checkout_pk or uuid.uuid4()),
        "channel": {"slug": channel, "name": SHOP, "currencyCode": currency},
    }


def order_source(number: str, channel: str = "main", currency: str = "USD") -> dict:
    return {
        "__typename": "Order",
        "id": gid("Order", uuid.uuid4()),
        "number": number,
        "channel": {"slug": channel, "name": SHOP, "currencyCode": currency},
    }


def initialize_payload(
    *,
    transaction_id: str,
    amount: Any = 30.0,
    provider: Optional[str] = "coinpay24",
    action_type: str = "CHARGE",
    **extra,
) -> dict:
    return {
        "issuedAt": now_iso(),
        "version": "3.20.119",
        "recipient": {"id": APP_ID},
        "data": {"provider": provider} if provider else None,
        "merchantReference": transaction_id,
        "idempotencyKey": "idem-" + transaction_id[-6:],
        "transaction": {"id": transaction_id, "pspReference": ""},
        "action": {"amount": amount, "currency": "USD", "actionType": action_type},
        "sourceObject": extra.pop("source", None) or source(),
        **extra,
    }
