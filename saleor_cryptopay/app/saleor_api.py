"""Talking to Saleor: its GraphQL API (with the App token) and its JWKS.

The token goes only into the Authorization header: never into a log line,
an exception message or the database unencrypted.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import socket
from decimal import Decimal
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit

from ..money import format_amount
from . import outbound

logger = logging.getLogger(__name__)

JWKS_MAX_BYTES = 64 * 1024  # Saleor publishes one or two RSA keys
DEFAULT_PORTS = {"http": 80, "https": 443}


class SaleorUnavailable(Exception):
    """Saleor could not be reached or answered with a server error: retry later."""


class SaleorNotAllowed(SaleorUnavailable):
    """The URL names a loopback, private or link-local address and the
    operator has not allowed a local Saleor: nothing was sent."""


class SaleorRefused(Exception):
    """Saleor answered, but refused the call (GraphQL or mutation errors)."""

    def __init__(self, message: str, codes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.codes = codes


def normalise_api_url(url: str) -> str:
    """The one spelling of a Saleor API URL, so that one Saleor is one
    installation: scheme and host lower-case, no default port, ``localhost``
    as 127.0.0.1, IP addresses in standard form, the path with one trailing
    slash, no credentials, query or fragment. "" when not an http(s) URL."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").rstrip(".")
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc:
        return ""
    host = _canonical_host(host)
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = "/".join(segment for segment in parts.path.split("/") if segment)
    return urlunsplit((scheme, netloc, f"/{path}/" if path else "/", "", ""))


def _canonical_host(host: str) -> str:
    if host == "localhost" or host.endswith(".localhost"):
        return "127.0.0.1"  # the same machine, whichever name the shop used
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:  # 2130706433, 0x7f.1, 127.1: spellings of an IPv4 address
            ip = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return f"[{ip.compressed}]"
    return str(ip)


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


def _call(method: str, url: str, **kwargs: Any) -> outbound.Reply:
    try:
        return outbound.call(method, url, **kwargs)
    except outbound.TargetRefused as exc:
        raise SaleorNotAllowed(str(exc)) from None
    except outbound.Unreachable as exc:
        raise SaleorUnavailable(str(exc)) from None


def fetch_jwks(api_url: str) -> dict:
    reply = _call("GET", jwks_url(api_url), max_bytes=JWKS_MAX_BYTES)
    if reply.status != 200:
        raise SaleorUnavailable(f"JWKS answered HTTP {reply.status}")
    try:
        body = reply.json()
    except ValueError:
        raise SaleorUnavailable("JWKS is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
        raise SaleorUnavailable("JWKS has no keys")
    return body


class SaleorClient:
    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = normalise_api_url(api_url)
        self._token = token

    def __repr__(self) -> str:
        return f"SaleorClient({self.api_url!r})"

    def _post(self, query: str, variables: Optional[dict]) -> outbound.Reply:
        return _call(
            "POST",
            self.api_url,
            json_body={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self._token}"},
        )

    @staticmethod
    def _body(reply: outbound.Reply) -> dict[str, Any]:
        if reply.status >= 500 or reply.status == 429:
            raise SaleorUnavailable(f"Saleor answered HTTP {reply.status}")
        try:
            body = reply.json()
        except ValueError:
            raise SaleorUnavailable(f"Saleor answered HTTP {reply.status}, not JSON") from None
        if not isinstance(body, dict):
            raise SaleorUnavailable(f"Saleor answered HTTP {reply.status}, not GraphQL")
        return body

    def execute(self, query: str, variables: Optional[dict] = None) -> dict[str, Any]:
        reply = self._post(query, variables)
        body = self._body(reply)
        if body.get("errors"):
            errors = [e for e in body["errors"][:3] if isinstance(e, dict)]
            messages = "; ".join(str(e.get("message", ""))[:200] for e in errors)
            codes = tuple(
                str(((e.get("extensions") or {}).get("exception") or {}).get("code", ""))
                for e in errors
            )
            raise SaleorRefused(f"GraphQL errors: {messages}", codes)
        if reply.status != 200 or not isinstance(body.get("data"), dict):
            raise SaleorRefused(f"Saleor answered HTTP {reply.status}")
        return body["data"]

    def app_identity(self) -> tuple[str, str]:
        """(app id, manifest identifier) of the app this token belongs to."""
        app = self.execute(APP_QUERY).get("app") or {}
        if not isinstance(app, dict) or not app.get("id"):
            raise SaleorRefused("the token does not belong to an app")
        return str(app["id"]), str(app.get("identifier") or "")

    def app_id(self) -> str:
        return self.app_identity()[0]

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
        payment_method: str = "",
    ) -> bool:
        """transactionEventReport; True if Saleor had it already (alreadyProcessed).
        ``payment_method`` (Saleor 3.22+ only): the coin, in paymentMethodDetails."""
        variables = {
            "id": transaction_id,
            "psp": psp_reference,
            "type": event_type,
            "amount": format_amount(amount, currency) if amount is not None else None,
            "message": message[:500] or None,
            "url": external_url or None,
        }
        document = REPORT_MUTATION
        if payment_method:
            document = REPORT_WITH_METHOD_MUTATION
            variables["method"] = payment_method[:256]
        data = self.execute(document, variables)["transactionEventReport"] or {}
        _raise_errors(data)
        return bool(data.get("alreadyProcessed"))

    def report_and_complete(
        self,
        *,
        transaction_id: str,
        psp_reference: str,
        amount: Decimal,
        currency: str,
        checkout_id: str,
        message: str = "",
        external_url: str = "",
        payment_method: str = "",
    ) -> tuple[Any, Any]:
        """CHARGE_SUCCESS and checkoutComplete in one request: Saleor runs the
        mutations of one document in order, so the checkout is paid when it is
        completed, and one round trip (request, token check, commit) is saved.

        Returns (report, completion): each what ``report_event`` /
        ``checkout_complete`` would return, or the SaleorRefused they would
        raise. SaleorUnavailable when there is no usable answer at all."""
        variables = {
            "id": transaction_id,
            "psp": psp_reference,
            "type": "CHARGE_SUCCESS",
            "amount": format_amount(amount, currency),
            "message": message[:500] or None,
            "url": external_url or None,
            "checkout": checkout_id,
        }
        document = REPORT_AND_COMPLETE_MUTATION
        if payment_method:
            document = REPORT_WITH_METHOD_AND_COMPLETE_MUTATION
            variables["method"] = payment_method[:256]
        data, errors = self.execute_fields(document, variables)
        report: Any
        completion: Any
        try:
            if "transactionEventReport" in errors:
                raise SaleorRefused(*errors["transactionEventReport"])
            payload = data.get("transactionEventReport") or {}
            _raise_errors(payload)
            report = bool(payload.get("alreadyProcessed"))
        except SaleorRefused as exc:
            report = exc
        try:
            if "checkoutComplete" in errors:
                raise SaleorRefused(*errors["checkoutComplete"])
            payload = data.get("checkoutComplete") or {}
            _raise_errors(payload)
            order = payload.get("order") or {}
            completion = (order.get("id"), str(order.get("number") or ""))
        except SaleorRefused as exc:
            completion = exc
        return report, completion

    def execute_fields(
        self, query: str, variables: dict
    ) -> tuple[dict[str, Any], dict[str, tuple[str, tuple[str, ...]]]]:
        """A document of several mutations: (data, errors by top-level field).
        An error that names no field refuses the whole document."""
        reply = self._post(query, variables)
        body = self._body(reply)
        by_field: dict[str, tuple[str, tuple[str, ...]]] = {}
        for error in (body.get("errors") or [])[:10]:
            error = error if isinstance(error, dict) else {}
            path = error.get("path") or []
            message = str(error.get("message", ""))[:200]
            code = str(((error.get("extensions") or {}).get("exception") or {}).get("code", ""))
            if not path or not isinstance(path[0], str):
                raise SaleorRefused(f"GraphQL errors: {message}", (code,))
            by_field.setdefault(path[0], (f"GraphQL errors: {message}", (code,)))
        data = body.get("data")
        if reply.status != 200 or not isinstance(data, dict):
            raise SaleorRefused(f"Saleor answered HTTP {reply.status}")
        return data, by_field

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

APP_QUERY = """
query AppIdentity {
  app { id identifier }
}
"""

# Saleor 3.22+: the same report naming the payment method
REPORT_WITH_METHOD_MUTATION = """
# saleor>=3.22 (paymentMethodDetails)
mutation Report($id: ID!, $psp: String!, $type: TransactionEventTypeEnum!,
                $amount: PositiveDecimal, $message: String, $url: String, $method: String!) {
  transactionEventReport(id: $id, pspReference: $psp, type: $type, amount: $amount,
                         message: $message, externalUrl: $url,
                         paymentMethodDetails: { other: { name: $method } }) {
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

# the charge and the order in one request (mutations of a document run in order)
REPORT_AND_COMPLETE_MUTATION = """
mutation ReportAndComplete($id: ID!, $psp: String!, $type: TransactionEventTypeEnum!,
                           $amount: PositiveDecimal, $message: String, $url: String,
                           $checkout: ID!) {
  transactionEventReport(id: $id, pspReference: $psp, type: $type, amount: $amount,
                         message: $message, externalUrl: $url) {
    alreadyProcessed
    transactionEvent { id type }
    errors { field code message }
  }
  checkoutComplete(id: $checkout) {
    order { id number }
    errors { field code message }
  }
}
"""

REPORT_WITH_METHOD_AND_COMPLETE_MUTATION = """
# saleor>=3.22 (paymentMethodDetails)
mutation ReportAndComplete($id: ID!, $psp: String!, $type: TransactionEventTypeEnum!,
                           $amount: PositiveDecimal, $message: String, $url: String,
                           $method: String!, $checkout: ID!) {
  transactionEventReport(id: $id, pspReference: $psp, type: $type, amount: $amount,
                         message: $message, externalUrl: $url,
                         paymentMethodDetails: { other: { name: $method } }) {
    alreadyProcessed
    transactionEvent { id type }
    errors { field code message }
  }
  checkoutComplete(id: $checkout) {
    order { id number }
    errors { field code message }
  }
}
"""
