"""Talking to Saleor: its GraphQL API (with the App token) and its JWKS.

The token goes only into the Authorization header: never into a log line,
an exception message or the database unencrypted.
"""

from __future__ import annotations

import base64
import logging
from decimal import Decimal
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit

import requests

from ..money import format_amount

logger = logging.getLogger(__name__)

TIMEOUT = (3.05, 20)


class SaleorUnavailable(Exception):
    """Saleor could not be reached or answered with a server error: retry later."""


class SaleorRefused(Exception):
    """Saleor answered, but refused the call (GraphQL or mutation errors)."""

    def __init__(self, message: str, codes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.codes = codes


def normalise_api_url(url: str) -> str:
    """``https://shop.example/graphql/`` whatever the trailing slash."""
    url = url.strip()
    return url if url.endswith("/") else url + "/"


def jwks_url(api_url: str) -> str:
    parts = urlsplit(api_url)
    return urlunsplit((parts.scheme, parts.netloc, "/.well-known/jwks.json", "", ""))


def global_id(type_name: str, pk: str) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode("ascii")


def from_global_id(value: str) -> tuple[str, str]:
    """("Checkout", "<uuid>") from a Saleor global id; ("", "") if not one."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    type_name, _, pk = decoded.partition(":")
    return (type_name, pk) if pk else ("", "")


def fetch_jwks(api_url: str) -> dict:
    try:
        response = requests.get(jwks_url(api_url), timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise SaleorUnavailable(f"JWKS unreachable: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise SaleorUnavailable(f"JWKS answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise SaleorUnavailable("JWKS is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
        raise SaleorUnavailable("JWKS has no keys")
    return body


class SaleorClient:
    def __init__(self, api_url: str, token: str, *, session: Optional[requests.Session] = None):
        self.api_url = normalise_api_url(api_url)
        self._token = token
        self.session = session or requests.Session()

    def __repr__(self) -> str:
        return f"SaleorClient({self.api_url!r})"

    def execute(self, query: str, variables: Optional[dict] = None) -> dict[str, Any]:
        try:
            response = self.session.post(
                self.api_url,
                json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise SaleorUnavailable(f"Saleor unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise SaleorUnavailable(f"Saleor answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise SaleorUnavailable(
                f"Saleor answered HTTP {response.status_code}, not JSON"
            ) from None
        if body.get("errors"):
            messages = "; ".join(str(e.get("message", ""))[:200] for e in body["errors"][:3])
            codes = tuple(
                str((e.get("extensions") or {}).get("exception", {}).get("code", ""))
                for e in body["errors"][:3]
            )
            raise SaleorRefused(f"GraphQL errors: {messages}", codes)
        if response.status_code != 200 or not isinstance(body.get("data"), dict):
            raise SaleorRefused(f"Saleor answered HTTP {response.status_code}")
        return body["data"]

    def app_id(self) -> str:
        data = self.execute("query { app { id } }")
        app = data.get("app") or {}
        if not app.get("id"):
            raise SaleorRefused("the token does not belong to an app")
        return str(app["id"])

    def report_event(
        self,
        *,
        transaction_id: str,
        psp_reference: str,
        event_type: str,
        amount: Optional[Decimal],
        currency: str,
        message: str = "",
        external_url: str = "",
    ) -> bool:
        """transactionEventReport; True if Saleor had it already (alreadyProcessed)."""
        variables = {
            "id": transaction_id,
            "psp": psp_reference,
            "type": event_type,
            "amount": format_amount(amount, currency) if amount is not None else None,
            "message": message[:500] or None,
            "url": external_url or None,
        }
        data = self.execute(REPORT_MUTATION, variables)["transactionEventReport"] or {}
        _raise_errors(data)
        return bool(data.get("alreadyProcessed"))

    def checkout_complete(self, checkout_id: str) -> tuple[Optional[str], str]:
        """The order's id and number, or SaleorRefused with Saleor's error codes."""
        data = self.execute(COMPLETE_MUTATION, {"id": checkout_id})["checkoutComplete"] or {}
        _raise_errors(data)
        order = data.get("order") or {}
        return order.get("id"), str(order.get("number") or "")


def _raise_errors(data: dict) -> None:
    errors = data.get("errors") or []
    if errors:
        text = "; ".join(f"{e.get('code')}: {e.get('message')}"[:200] for e in errors[:3])
        raise SaleorRefused(text, tuple(str(e.get("code")) for e in errors))


# amount is a PositiveDecimal: sent as a string, Decimal end to end
REPORT_MUTATION = """
mutation Report($id: ID!, $psp: String!, $type: TransactionEventTypeEnum!,
                $amount: PositiveDecimal, $message: String, $url: String) {
  transactionEventReport(id: $id, pspReference: $psp, type: $type, amount: $amount,
                         message: $message, externalUrl: $url) {
    alreadyProcessed
    transactionEvent { id type }
    errors { field code message }
  }
}
"""

COMPLETE_MUTATION = """
mutation Complete($id: ID!) {
  checkoutComplete(id: $id) {
    order { id number }
    errors { field code message }
  }
}
"""
