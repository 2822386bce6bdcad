"""CoinPay24 wire protocol, base ``/coinpay24/v1``.

Accepts JSON bodies (the provider's shop plugins) and form bodies (the docs'
curl examples), ``api_key`` in the body. Errors follow the CoinGate shape the
docs were copied from: ``message``, ``reason``, ``error_message`` and, for
validation, ``errors``.
"""

from __future__ import annotations

import hmac
import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from ..money import precision, quantize
from . import invoices
from .httputil import BadRequest, Request, Response, json_response
from .rates import PRICE_CURRENCIES
from .state import Invoice, Store

BASE = "/coinpay24/v1"
_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3,4}$")
TITLE_MAX = 150


def error(status: int, message: str, reason: str, errors: Optional[list[str]] = None) -> Response:
    body: dict[str, Any] = {"message": message, "reason": reason}
    body["error_message"] = "; ".join(errors) if errors else message
    if errors is not None:
        body["errors"] = errors
    return json_response(body, status)


def invalid(errors: list[str], message: str = "Invoice is not valid") -> Response:
    return error(422, message, "InvoiceIsNotValid", errors)


def not_found() -> Response:
    return error(404, "Invoice not found", "InvoiceNotFound")


def text(value: Any) -> str:
    """A body value as text; JSON numbers keep their shortest form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


def endpoint(method: str, sub: str) -> Optional[str]:
    """The counter name of a path under BASE, or None when there is none."""
    parts = [p for p in sub.split("/") if p]
    if parts == ["invoices", "create"]:
        return "invoices/create"
    if parts == ["invoices"]:
        return "invoices/list"
    if len(parts) == 2 and parts[0] == "invoices":
        return "invoices/get"
    if len(parts) == 3 and parts[0] == "invoices" and parts[2] == "checkout":
        return "invoices/checkout"
    return None


def api_key_of(req: Request) -> str:
    """The key a call is counted against (quotas); "" when unreadable."""
    try:
        return text(req.params().get("api_key"))
    except BadRequest:
        return ""


def _auth(store: Store, params: dict[str, Any]) -> Optional[str]:
    given = text(params.get("api_key")).encode("utf-8")
    match = None
    for key in store.config.coinpay24_api_keys:
        if hmac.compare_digest(key.encode("utf-8"), given):
            match = key
    return match


def _own(store: Store, api_key: str, raw_id: str) -> Optional[Invoice]:
    if not raw_id.isdigit():
        return None
    with store.lock:
        inv = store.invoices.get(int(raw_id))
    # another merchant's invoice does not exist as far as this key can tell
    return inv if inv is not None and inv.api_key == api_key else None


def handle(store: Store, req: Request, sub: str) -> Response:
    name = endpoint(req.method, sub)
    if name is None:
        return error(404, "Not found", "NotFound")
    if name in ("invoices/create", "invoices/checkout") and req.method != "POST":
        return error(405, "Method not allowed: use POST", "MethodNotAllowed")
    params = req.params()
    api_key = _auth(store, params)
    if api_key is None:
        return error(401, "Unauthorized: invalid api_key", "BadAuthToken")
    invoices.expire_due(store)  # lazily, so a read never shows a stale status
    parts = [p for p in sub.split("/") if p]
    if name == "invoices/create":
        return _create(store, api_key, params)
    if name == "invoices/list":
        return _list(store, api_key, params)
    inv = _own(store, api_key, parts[1])
    if inv is None:
        return not_found()
    if name == "invoices/checkout":
        return _checkout(store, inv, params)
    with store.lock:
        return json_response(invoices.invoice_json(store, inv))


def parse_amount(raw: str, currency: str, errors: list[str]) -> Optional[Decimal]:
    if not raw:
        errors.append("price_amount is required")
        return None
    if not _AMOUNT.match(raw):
        errors.append("price_amount must be a positive decimal number")
        return None
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        errors.append("price_amount must be a positive decimal number")
        return None
    if amount <= 0:
        errors.append("price_amount must be greater than 0")
        return None
    if currency and currency in PRICE_CURRENCIES and quantize(amount, currency) != amount:
        errors.append(
            f"price_amount has more than {precision(currency)} decimal places for {currency}"
        )
        return None
    return amount


def _create(store: Store, api_key: str, params: dict[str, Any]) -> Response:
    errors: list[str] = []
    order_id = text(params.get("order_id"))
    if not order_id:
        errors.append("order_id is required")
    currency = text(params.get("price_currency")).upper()
    if not currency:
        errors.append("price_currency is required")
    elif not _CURRENCY.match(currency) or currency not in PRICE_CURRENCIES:
        errors.append(f"price_currency {currency} is not supported")
    raw_amount = text(params.get("price_amount", params.get("amount")))
    amount = parse_amount(raw_amount, currency, errors)
    title = text(params.get("title"))
    if len(title) > TITLE_MAX:
        errors.append(f"title must be at most {TITLE_MAX} characters")
    urls = {}
    for name in ("callback_url", "cancel_url", "success_url"):
        value = text(params.get(name))
        if value and not re.match(r"^https?://[^\s/]+", value):
            errors.append(f"{name} must be an http(s) URL")
        urls[name] = value
    if errors or amount is None:
        return invalid(errors)
    inv = invoices.create_invoice(
        store,
        api_key=api_key,
        order_id=order_id,
        price_amount=amount,
        price_currency=currency,
        title=title,
        description=text(params.get("description")),
        **urls,
    )
    with store.lock:
        return json_response(invoices.created_json(store, inv))


def _checkout(store: Store, inv: Invoice, params: dict[str, Any]) -> Response:
    coin = text(params.get("pay_currency"))
    if not coin:
        return invalid(["pay_currency is required"])
    try:
        invoices.checkout(
            store,
            inv,
            coin,
            text(params.get("purchaser_fullname")),
            text(params.get("purchaser_email")),
        )
    except invoices.CheckoutError as exc:
        return invalid([exc.message])
    with store.lock:
        return json_response(invoices.checkout_json(store, inv))


def _int(params: dict[str, Any], name: str, default: int) -> Optional[int]:
    raw = text(params.get(name))
    if not raw:
        return default
    return int(raw) if raw.isdigit() else None


def _date_param(params: dict[str, Any], which: str) -> Any:
    raw = params.get(f"created_at[{which}]")
    nested = params.get("created_at")
    if raw is None and isinstance(nested, dict):  # JSON clients may nest it
        raw = nested.get(which)
    value = text(raw)
    if not value:
        return None
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        return False


def _list(store: Store, api_key: str, params: dict[str, Any]) -> Response:
    errors: list[str] = []
    per_page = _int(params, "per_page", 100)
    if per_page is None or not 1 <= per_page <= 100:
        errors.append("per_page must be an integer between 1 and 100")
    page = _int(params, "page", 1)
    if page is None or page < 1:
        errors.append("page must be an integer >= 1")
    sort = text(params.get("sort")) or "created_at_desc"
    if sort not in ("created_at_asc", "created_at_desc"):
        errors.append("sort must be created_at_asc or created_at_desc")
    since, until = _date_param(params, "from"), _date_param(params, "to")
    if since is False or until is False:
        errors.append("created_at[from] and created_at[to] must be dates like 2018-09-30")
    if errors or per_page is None or page is None:
        return invalid(errors, "Invalid list parameters")
    with store.lock:
        rows = [i for i in store.invoices.values() if i.api_key == api_key]
        if since:
            rows = [i for i in rows if i.created_at.date() >= since]
        if until:
            rows = [i for i in rows if i.created_at.date() <= until]
        rows.sort(key=lambda i: (i.created_at, i.id), reverse=sort == "created_at_desc")
        total = len(rows)
        chunk = rows[(page - 1) * per_page : page * per_page]
        return json_response(
            {
                "current_page": page,
                "per_page": per_page,
                "total_invoices": total,
                "total_pages": math.ceil(total / per_page),
                "invoices": [invoices.invoice_json(store, i) for i in chunk],
            }
        )
