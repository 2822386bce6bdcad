"""The sandbox's own JSON control API under ``/_sandbox/`` (for tests and the
payment pages' buttons). Not part of either provider's protocol.

Buttons on the payment pages post forms with a ``_redirect`` field: those
requests get a 303 back to the page (with ``?error=`` when the action was
refused) instead of JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import quote

from . import invoices, orders
from .httputil import BadRequest, Request, Response, html_response, json_response, redirect, truthy
from .pages import index_page
from .state import FINAL_DELIVERY_STATES, ActionError, Store

if TYPE_CHECKING:
    from .server import SandboxServer

PREFIX = "/_sandbox"
PROVIDER_ACTIONS = {"coinpay24": invoices.ACTIONS, "coinpay_th": orders.ACTIONS}


def run_action(
    store: Store, provider: str, ref: Any, action: str, opts: dict[str, Any]
) -> dict[str, Any]:
    """Apply a control action; returns the API view plus the callback ids."""
    if provider == "coinpay24":
        with store.lock:
            inv = store.invoices.get(int(ref)) if str(ref).isdigit() else None
            if inv is None:
                inv_id = store.invoice_tokens.get(str(ref))
                inv = store.invoices.get(inv_id) if inv_id else None
        if inv is None:
            raise ActionError(f"invoice {ref} not found", 404)
        ids = invoices.apply_action(store, inv, action, opts)
        with store.lock:
            return {**invoices.invoice_json(store, inv), "callbacks": ids}
    if provider == "coinpay_th":
        order = orders.find_order(store, None, ref)
        if order is None:
            raise ActionError(f"order {ref} not found", 404)
        ids = orders.apply_action(store, order, action, opts)
        with store.lock:
            return {**orders.check_json(order), "callbacks": ids}
    raise ActionError(f"unknown provider {provider!r}", 404)


def list_callbacks(
    store: Store,
    *,
    provider: Optional[str] = None,
    ref: Optional[Any] = None,
    state: Optional[str] = None,
) -> list[dict[str, Any]]:
    with store.lock:
        rows = sorted(store.deliveries.values(), key=lambda d: d.id)
        return [
            d.public()
            for d in rows
            if (provider is None or d.provider == provider)
            and (ref is None or str(d.ref_id) == str(ref))
            and (state is None or d.state == state)
        ]


def _opts(req: Request) -> dict[str, Any]:
    if not req.body:
        return dict(req.query)
    return req.params()


def _safe_back(target: str) -> Optional[str]:
    # only same-site paths: the field comes from a form anyone could post
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def handle(sb: SandboxServer, req: Request) -> Response:
    store = sb.store
    parts = [p for p in req.path[len(PREFIX) :].split("/") if p]
    method = req.method

    if not parts and method == "GET":
        return html_response(index_page(store, sb.faults.pending()))

    # POST /_sandbox/<provider>/<invoices|orders>/<id>/<action>
    if len(parts) == 4 and parts[0] in PROVIDER_ACTIONS and method == "POST":
        provider, kind, ref, action = parts
        if (provider, kind) not in (("coinpay24", "invoices"), ("coinpay_th", "orders")):
            return json_response({"error": "not found"}, 404)
        opts = _opts(req)
        back = _safe_back(str(opts.pop("_redirect", "")))
        if "confirmations" in opts:
            opts["confirmations"] = truthy(opts["confirmations"])
        try:
            result = run_action(store, provider, ref, action, opts)
        except ActionError as exc:
            if back:
                return redirect(f"{back}?error={quote(exc.message)}")
            return json_response({"error": exc.message}, exc.status)
        return redirect(back) if back else json_response(result)

    if parts == ["callbacks"] and method == "GET":
        q = dict(req.query)
        ref = q.get("invoice") or q.get("order")
        return json_response(
            list_callbacks(store, provider=q.get("provider"), ref=ref, state=q.get("state"))
        )
    if len(parts) == 3 and parts[0] == "callbacks" and parts[2] == "retry" and method == "POST":
        if not parts[1].isdigit() or int(parts[1]) not in store.deliveries:
            return json_response({"error": "callback not found"}, 404)
        sb.retry_callback(int(parts[1]))
        return json_response(_one(store, int(parts[1])))

    if parts == ["requests"] and method == "GET":
        return json_response(store.request_counts())
    if parts == ["reset"] and method == "POST":
        sb.reset()
        return json_response({"ok": True})

    if parts == ["faults"]:
        if method == "GET":
            return json_response(sb.faults.pending())
        if method == "DELETE":
            sb.faults.clear()
            return json_response({"ok": True})
        if method == "POST":
            data = req.params()
            try:
                fault = sb.inject_fault(
                    str(data.get("provider", "")),
                    str(data.get("mode", "")),
                    count=int(data.get("count", 1)),
                    seconds=float(data.get("seconds", 1.0)),
                    status=int(data.get("status", 503)),
                    retry_after=float(data.get("retry_after", 1)),
                    endpoint=(str(data["endpoint"]) if data.get("endpoint") else None),
                    location=(str(data["location"]) if data.get("location") else None),
                )
            except (TypeError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response(fault)

    if parts == ["icoinpay", "payouts"] and method == "GET":
        return json_response(sb.payouts())
    if parts == ["icoinpay", "wallet"] and method == "POST":
        return _wallet(sb, req.params())

    if parts == ["invoices"] and method == "GET":
        return json_response(sb.invoices())
    if parts == ["orders"] and method == "GET":
        return json_response(sb.orders())
    if parts == ["time"] and method == "POST":
        data = req.params()
        try:
            seconds = float(data.get("advance", 0))
        except (TypeError, ValueError) as exc:
            raise BadRequest("advance must be a number of seconds") from exc
        sb.advance_time(seconds)
        return json_response({"now": store.now().isoformat(), "offset": store.time_offset})
    return json_response({"error": "not found"}, 404)


def _wallet(sb: SandboxServer, data: dict[str, Any]) -> Response:
    unlinked = data.get("unlinked") or ()

    def number(name: str) -> Any:
        return int(data[name]) if data.get(name) not in (None, "") else None

    try:
        sb.set_wallet(
            currency=str(data.get("currency") or "BTC"),
            balance=number("balance"),
            key=str(data["api_key"]) if data.get("api_key") else None,
            send_limit=number("send_limit"),
            unlinked=(unlinked,) if isinstance(unlinked, str) else tuple(unlinked),
        )
    except (TypeError, ValueError) as exc:
        return json_response({"error": str(exc)}, 400)
    with sb.store.lock:
        return json_response(
            {
                "wallets": sb.store.wallets,
                "send_limit": sb.store.send_limit,
                "unlinked": sorted(sb.store.unlinked),
            }
        )


def _one(store: Store, delivery_id: int) -> dict[str, Any]:
    with store.lock:
        return store.deliveries[delivery_id].public()


def final_count(store: Store, **filters: Any) -> list[dict[str, Any]]:
    return [d for d in list_callbacks(store, **filters) if d["state"] in FINAL_DELIVERY_STATES]
