"""A loopback HTTP server standing in for Saleor: it serves a JWKS and a
GraphQL endpoint that records the App's calls (``{app{id}}``,
``transactionEventReport``, ``checkoutComplete``) and answers as Saleor does.
Webhook payloads are signed the way Saleor signs them: a detached RS256 JWS
(``b64: false``) over the raw body."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = base64.b64encode(b"App:42").decode()
TOKEN = "saleor-app-token-" + "x" * 20
IDENTIFIER = "saleor.cryptopay"  # the manifest's id
# another app installed in the same Saleor, with a valid token of its own
OTHER_APP_ID = base64.b64encode(b"App:7").decode()
OTHER_TOKEN = "other-app-token-" + "y" * 20


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
        self.jwks_padding = 0  # bytes of junk added to the JWKS (a hostile Saleor)
        self.down = False  # answer 503 to everything GraphQL
        self.complete_errors: list[dict] = []  # checkoutComplete answers errors
        self.report_errors: list[dict] = []  # transactionEventReport answers errors
        self.gate: Optional[threading.Event] = None  # set: GraphQL answers wait for it
        # token → (app id, identifier): the apps installed in this Saleor
        self.apps: dict[str, tuple[str, str]] = {
            TOKEN: (APP_ID, IDENTIFIER),
            OTHER_TOKEN: (OTHER_APP_ID, "other.app"),
        }
        # the Saleor version it plays: with the shared schemas at hand, every
        # document is validated against that version's schema, as Saleor would
        self.version = "3.20.119"
        self.problems: list[tuple[str, dict]] = []  # appProblemCreate / Dismiss
        self._reported: dict[tuple, str] = {}
        self.methods: dict[tuple, Optional[str]] = {}  # paymentMethodDetails name
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/.well-known/jwks.json":
                    with outer.lock:
                        outer.jwks_fetches += 1
                        keys = [k.jwk() for k in outer.published]
                    padding = {"padding": "x" * outer.jwks_padding} if outer.jwks_padding else {}
                    self._json(200, {"keys": keys, **padding})
                else:
                    self._json(404, {})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                status, answer = outer.graphql(body, self.headers.get("Authorization", ""))
                gate = outer.gate
                if gate is not None:  # recorded, answered when the test opens the gate
                    gate.wait(30)
                self._json(status, answer)

            def _json(self, status: int, data: Any) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                # the App may stop reading (a size cap): as it should
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/graphql/"

    @property
    def version(self) -> str:
        return self._version

    @version.setter
    def version(self, value: str) -> None:
        self._version = value
        # parse the schema now, not inside a request the App times out
        from tests import saleor_schema

        key = saleor_schema.version_key(value)
        if key and saleor_schema.available():
            saleor_schema.schema(key)

    def start(self) -> FakeSaleor:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- GraphQL -----------------------------------------------------------
    def graphql(self, body: dict, auth: str) -> tuple[int, dict]:
        query, variables = body.get("query", ""), body.get("variables") or {}
        refused = self._invalid(query)
        with self.lock:
            self.calls.append(
                {"query": query, "variables": variables, "auth": auth, "down": self.down}
            )
            if self.down:
                return 503, {"errors": [{"message": "down"}]}
            if refused:
                return 400, {"errors": [{"message": m} for m in refused]}
            app = self.apps.get(auth.removeprefix("Bearer "))
            if app is None:
                return 200, {"data": {"app": None}, "errors": [{"message": "invalid token"}]}
            if "appProblemCreate" in query:
                self.problems.append(("create", variables["input"]))
                problem = {"id": gid("AppProblem")}
                return 200, {"data": {"appProblemCreate": {"appProblem": problem, "errors": []}}}
            if "appProblemDismiss" in query:
                self.problems.append(("dismiss", variables))
                return 200, {"data": {"appProblemDismiss": {"errors": []}}}
            data = {}
            if "transactionEventReport" in query:
                data["transactionEventReport"] = self._report(variables)
            if "checkoutComplete" in query:
                errors = self.complete_errors
                order = None if errors else {"id": gid("Order"), "number": "1042"}
                data["checkoutComplete"] = {"order": order, "errors": errors}
            if data:  # one document may carry both, as Saleor runs them in order
                return 200, {"data": data}
            if "app" in query:
                return 200, {"data": {"app": {"id": app[0], "identifier": app[1]}}}
        return 400, {"errors": [{"message": "unknown query"}]}

    def _invalid(self, query: str) -> list[str]:
        from tests import saleor_schema

        key = saleor_schema.version_key(self.version)
        if key is None or not saleor_schema.available():
            return []
        return saleor_schema.errors(query, key)

    def _report(self, v: dict) -> dict:
        if self.report_errors:
            return {"alreadyProcessed": False, "transactionEvent": None,
                    "errors": self.report_errors}  # fmt: skip
        key = (v["id"], v["psp"], v["type"])
        if key in self._reported:
            if self._reported[key] != v.get("amount"):
                return {"alreadyProcessed": False, "transactionEvent": None,
                        "errors": [{"field": "amount", "code": "INCORRECT_DETAILS",
                                    "message": "different amount"}]}  # fmt: skip
            return {"alreadyProcessed": True, "transactionEvent": {"id": "e"}, "errors": []}
        self._reported[key] = v.get("amount")
        self.methods[key] = v.get("method")
        event = {"id": gid("TransactionEvent", len(self._reported)), "type": v["type"]}
        return {"alreadyProcessed": False, "transactionEvent": event, "errors": []}

    def reports(self) -> list[dict]:
        """transactionEventReport calls Saleor received (not those while down),
        alone or in one document with checkoutComplete."""
        return [
            {k: v for k, v in c["variables"].items() if k != "checkout"}
            for c in self.received()
            if "transactionEventReport" in c["query"]
        ]

    def completions(self) -> list[dict]:
        return [
            {"id": c["variables"].get("checkout", c["variables"].get("id"))}
            for c in self.received()
            if "checkoutComplete" in c["query"]
        ]

    def received(self) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if not c["down"]]

    @property
    def token(self) -> str:
        """This App's token in this Saleor."""
        with self.lock:
            return self._own()[0]

    @token.setter
    def token(self, value: str) -> None:
        """Saleor now knows this App by ``value`` (same app id); the old token stops working."""
        with self.lock:
            old, app = self._own()
            del self.apps[old]
            self.apps[value] = app

    def _own(self) -> tuple[str, tuple[str, str]]:
        return next((t, a) for t, a in self.apps.items() if a[1] == IDENTIFIER)

    def reinstall(self, token: str, app_id: str) -> None:
        """The App uninstalled and installed again: a new app id and token,
        and the old token no longer works."""
        with self.lock:
            old = [t for t, (_, identifier) in self.apps.items() if identifier == IDENTIFIER]
            for t in old:
                del self.apps[t]
            self.apps[token] = (app_id, IDENTIFIER)

    # -- the Dashboard's token for the App (``App.accessToken``) -----------
    def staff_token(
        self,
        permissions: tuple[str, ...] = ("MANAGE_APPS", "MANAGE_ORDERS"),
        *,
        app: str = APP_ID,
        expires_in: int = 300,
        key: Optional[SigningKey] = None,
        issuer: Optional[str] = None,
        email: str = "staff@example.com",
    ) -> str:
        """The JWT Saleor hands the Dashboard for a staff user opening the App:
        RS256 with Saleor's key, claims as Saleor's ``create_access_token_for_app``."""
        now = int(time.time())
        claims = {
            "iat": now,
            "exp": now + expires_in,
            "iss": issuer or self.api_url,
            "owner": "saleor",
            "type": "thirdparty",
            "email": email,
            "user_id": gid("User", 7),
            "is_staff": True,
            "app": app,
            "user_permissions": list(permissions),
            "permissions": [p for p in permissions if p == "HANDLE_PAYMENTS"],
        }
        signer = key or self.key
        return jwt.encode(claims, signer.private, algorithm="RS256", headers={"kid": signer.kid})

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
