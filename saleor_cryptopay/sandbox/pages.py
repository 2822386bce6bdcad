"""Hosted payment pages: plain server-rendered HTML, escaped throughout.

The buttons are ordinary forms POSTing to the control API with a
``_redirect`` field; the control API answers 303 back to the page.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Optional

from ..money import format_amount
from ..qr import payment_uri, qr_data_uri
from . import invoices, orders
from .rates import PAY_CURRENCIES
from .state import Invoice, Order, Store

_CSS = """
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
.box{border:1px solid #ccc;border-radius:8px;padding:1rem;margin:1rem 0}
.status{font-weight:bold;text-transform:uppercase}
code{background:#f3f3f3;padding:.1rem .3rem;word-break:break-all}
form{display:inline-block;margin:.2rem}
.err{background:#fee;border:1px solid #c33;padding:.5rem}
.note{color:#666;font-size:.9em}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem}
"""

_COUNTDOWN_JS = """
<script>
(function(){var el=document.getElementById('countdown');if(!el)return;
var end=parseInt(el.dataset.expire,10);function tick(){
var s=Math.max(0,Math.round((end-Date.now())/1000));
el.textContent=s>0?Math.floor(s/60)+'m '+(s%60)+'s':'expired (reload)';
if(s>0)setTimeout(tick,1000);}tick();})();
</script>
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def layout(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"{body}{_COUNTDOWN_JS}</body></html>"
    )


def not_found(what: str) -> str:
    return layout("Not found", f"<h1>Not found</h1><p>{_e(what)}</p>")


def _button(action_url: str, back: str, label: str, extra: str = "") -> str:
    return (
        f'<form method="post" action="{_e(action_url)}">'
        f'<input type="hidden" name="_redirect" value="{_e(back)}">{extra}'
        f"<button type='submit'>{_e(label)}</button></form>"
    )


def _fraction(default: str) -> str:
    return f'<input name="fraction" size="4" aria-label="fraction" value="{_e(default)}">'


def _countdown(expire_ms: int, open_: bool) -> str:
    if not open_:
        return ""
    return f'<p>Expires in <span id="countdown" data-expire="{expire_ms}">…</span></p>'


_CONFIRM_BOX = (
    '<label><input type="checkbox" name="confirmations" value="1"> via confirming</label> '
)


def _qr(uri: Optional[str]) -> str:
    """The QR code a storefront gets for the same invoice (``contract.py``)."""
    if not uri:
        return ""
    return (
        f'<p><img alt="QR code: {_e(uri)}" src="{qr_data_uri(uri)}"></p>'
        f'<p class="note">Scans as <code>{_e(uri)}</code></p>'
    )


def _pay_to(amount: str, coin: str, address: str, uri: Optional[str], asking: bool) -> list[str]:
    """ "Send … to" with the QR code while money is still asked for; once paid,
    expired or closed, what was asked, and no code to scan."""
    if asking:
        return [
            f"<p>Send <strong>{_e(amount)} {_e(coin)}</strong> to</p>",
            f"<p><code>{_e(address)}</code></p>",
            _qr(uri),
        ]
    return [
        f"<p>Amount asked: <strong>{_e(amount)} {_e(coin)}</strong> at "
        f"<code>{_e(address)}</code></p>",
        '<p class="note">Nothing more to send for this payment.</p>',
    ]


def _error(error: Optional[str]) -> str:
    return f'<p class="err">{_e(error)}</p>' if error else ""


# CoinPay24 -----------------------------------------------------------------

_CP24_BUTTONS = {
    "new": ("pay", "underpay", "overpay", "pay_late", "expire", "cancel", "invalid"),
    "pending": ("pay", "underpay", "overpay", "pay_late", "expire", "cancel", "invalid"),
    "confirming": ("pay", "overpay", "invalid"),
    "expired": ("pay_late",),
    "paid": ("refund",),
}
_LABELS = {
    "pay": "Pay in full",
    "confirming": "Send (unconfirmed)",
    "underpay": "Underpay",
    "overpay": "Overpay",
    "pay_late": "Pay after expiry",
    "expire": "Let it expire",
    "cancel": "Cancel",
    "invalid": "Mark invalid",
    "refund": "Refund",
    "resend": "Resend callback",
}


def invoice_page(store: Store, inv: Invoice, error: Optional[str] = None) -> str:
    back = f"/coinpay24/invoice/{inv.token}"
    control = f"/_sandbox/coinpay24/invoices/{inv.id}"
    data = invoices.invoice_json(store, inv)
    parts = [
        "<h1>CoinPay24 sandbox invoice</h1>",
        '<p class="note">Local sandbox: no real coins move. Never send money here.</p>',
        _error(error),
        '<div class="box">',
        f"<p>{_e(inv.title) or 'Invoice'} &middot; order <code>{_e(inv.order_id)}</code>"
        f" &middot; invoice #{inv.id}</p>",
        f"<p>{_e(inv.description)}</p>" if inv.description else "",
        f"<p>Merchant amount: <strong>{_e(data['price_amount'])} "
        f"{_e(inv.price_currency)}</strong></p>",
        f'<p>Status: <span class="status">{_e(inv.status)}</span></p>',
        _countdown(int(inv.expire_at.timestamp() * 1000), inv.status in invoices.OPEN),
    ]
    if inv.pay_currency and inv.pay_amount is not None:
        amount = data["pay_amount"]
        uri = payment_uri(inv.pay_currency, inv.payment_address, inv.pay_amount)
        coin = _e(inv.pay_currency)
        parts += _pay_to(
            amount, inv.pay_currency, inv.payment_address, uri, inv.status in invoices.OPEN
        )
        if data["underpaid_amount"] != "0":
            parts.append(f"<p>Underpaid by {_e(data['underpaid_amount'])} {coin}</p>")
        if data["overpaid_amount"] != "0":
            parts.append(f"<p>Overpaid by {_e(data['overpaid_amount'])} {coin}</p>")
    parts.append("</div>")
    if inv.status == "new":
        options = "".join(f'<option value="{c}">{c}</option>' for c in PAY_CURRENCIES)
        parts.append(
            '<div class="box"><p>Choose a coin:</p>'
            + _button(
                f"{control}/checkout",
                back,
                "Continue",
                f'<select name="pay_currency" aria-label="coin">{options}</select> ',
            )
            + "</div>"
        )
    buttons = []
    for action in _CP24_BUTTONS.get(inv.status, ()):
        extra = ""
        if action == "underpay":
            extra = _fraction("0.5")
        elif action == "overpay":
            extra = _fraction("1.2")
        elif action == "pay":
            extra = _CONFIRM_BOX
        buttons.append(_button(f"{control}/{action}", back, _LABELS[action], extra))
    buttons.append(_button(f"{control}/resend", back, _LABELS["resend"]))
    parts.append('<div class="box"><p>Simulate:</p>' + "".join(buttons) + "</div>")
    links = []
    if inv.success_url:
        links.append(f'<a href="{_e(inv.success_url)}">Back to the shop (success)</a>')
    if inv.cancel_url:
        links.append(f'<a href="{_e(inv.cancel_url)}">Cancel and return to the shop</a>')
    if links:
        parts.append("<p>" + " &middot; ".join(links) + "</p>")
    return layout(f"Invoice #{inv.id}", "".join(parts))


# CoinPay.in.th ---------------------------------------------------------------

_TH_BUTTONS = {
    0: ("pay", "confirming", "underpay", "overpay", "pay_late", "expire"),
    5: ("pay", "confirming", "overpay", "pay_late", "expire"),
    1: ("pay", "overpay"),
    4: ("pay_late",),
}


def order_page(store: Store, order: Order, back: str, error: Optional[str] = None) -> str:
    control = f"/_sandbox/coinpay_th/orders/{order.id}"
    btc = format_amount(order.btc_amount, "BTC")
    received = format_amount(order.btc_received, "BTC")
    uri = payment_uri("BTC", order.address, order.btc_amount)
    ref = f" &middot; reference <code>{_e(order.reference_id)}</code>" if order.reference_id else ""
    parts = [
        "<h1>CoinPay.in.th sandbox order</h1>",
        '<p class="note">Local sandbox: no real coins move. Never send money here.</p>',
        _error(error),
        '<div class="box">',
        f"<p>Order #{order.id} &middot; <code>{_e(order.order_hash)}</code>{ref}</p>",
        f"<p>Merchant amount: <strong>{_e(format_amount(order.amount, order.currency))} "
        f"{_e(order.currency)}</strong></p>",
        *_pay_to(btc, "BTC", order.address, uri, order.status in orders.OPEN),
        f"<p>Received: {_e(received)} BTC</p>",
        f'<p>Status: <span class="status">{_e(orders.STATUS_TEXT[order.status])}</span></p>',
        _countdown(int(order.expire_at.timestamp() * 1000), order.status in orders.OPEN),
        "</div>",
    ]
    buttons = []
    for action in _TH_BUTTONS.get(order.status, ()):
        extra = ""
        if action == "underpay":
            extra = _fraction("0.5")
        elif action == "overpay":
            extra = _fraction("1.2")
        elif action == "pay":
            extra = _CONFIRM_BOX
        buttons.append(_button(f"{control}/{action}", back, _LABELS[action], extra))
    buttons.append(_button(f"{control}/resend", back, "Resend IPN"))
    parts.append('<div class="box"><p>Simulate:</p>' + "".join(buttons) + "</div>")
    if order.redirect and order.status == 2:
        parts.append(f'<p><a href="{_e(order.redirect)}">Return to the merchant</a></p>')
    return layout(f"Order #{order.id}", "".join(parts))


# index -------------------------------------------------------------------------


def _icoinpay_section(store: Store, faults: list[dict]) -> str:
    cfg = store.config
    with store.lock:
        keys = sorted(set(cfg.icoinpay_api_keys) | set(store.wallets))
        balance_rows = "".join(
            f"<tr><td><code>{_e(k)}</code></td><td>{_e(c)}</td>"
            f"<td>{_e(format_amount(Decimal(u).scaleb(-8), 'BTC'))}</td></tr>"
            for k in keys
            for c, u in sorted(store.wallet(k).items())
        )
        payout_rows = "".join(
            f"<tr><td>{p.id}</td><td>{_e(p.created_at)}</td><td><code>{_e(p.to)}</code></td>"
            f"<td>{_e(format_amount(Decimal(p.amount).scaleb(-8), 'BTC'))} {_e(p.currency)}</td>"
            f"<td>{_e(p.answer)}</td></tr>"
            for p in sorted(store.payouts.values(), key=lambda p: -p.id)[:200]
        )
        limit = store.send_limit
        unlinked = ", ".join(f"<code>{_e(a)}</code>" for a in sorted(store.unlinked)) or "none"
    fault_rows = "".join(
        f"<tr><td>{_e(f['provider'])}</td><td>{_e(f['mode'])}</td><td>{_e(f['endpoint'] or 'any')}"
        f"</td><td>{_e(f['count'])}</td></tr>"
        for f in faults
    )
    return (
        "<h2>iCoinPay wallet</h2>"
        f"<p>Base URL <code>{_e(cfg.base_url)}/icoinpay/api/v1</code>, api_key "
        + ", ".join(f"<code>{_e(k)}</code>" for k in cfg.icoinpay_api_keys)
        + f". Send limit: {_e(limit if limit is not None else 'none')} base units. "
        f"Addresses of no user: {unlinked}.</p>"
        "<table><tr><th>key</th><th>coin</th><th>balance</th></tr>"
        f"{balance_rows}</table>"
        "<h3>Payouts</h3><table><tr><th>id</th><th>at</th><th>to</th><th>amount</th>"
        f"<th>answer</th></tr>{payout_rows}</table>"
        '<p class="note">answer <strong>lost</strong>: the payout was made but its answer '
        "never reached the caller (fault drop, hang or bad_json).</p>"
        "<h2>Armed faults</h2><table><tr><th>provider</th><th>mode</th><th>endpoint</th>"
        f"<th>left</th></tr>{fault_rows}</table>"
    )


def index_page(store: Store, faults: Optional[list[dict]] = None) -> str:
    cfg = store.config
    with store.lock:
        inv_rows = "".join(
            f"<tr><td>{i.id}</td><td>{_e(i.order_id)}</td><td>{_e(i.status)}</td>"
            f"<td>{_e(format_amount(i.price_amount, i.price_currency))} {_e(i.price_currency)}</td>"
            f'<td><a href="/coinpay24/invoice/{_e(i.token)}">page</a></td></tr>'
            for i in sorted(store.invoices.values(), key=lambda i: -i.id)[:200]
        )
        order_rows = "".join(
            f"<tr><td>{o.id}</td><td>{_e(o.reference_id)}</td>"
            f"<td>{_e(orders.STATUS_TEXT[o.status])}</td>"
            f"<td>{_e(format_amount(o.amount, o.currency))} {_e(o.currency)}</td>"
            f'<td><a href="/coinpay_th/order/{_e(o.order_hash)}">page</a></td></tr>'
            for o in sorted(store.orders.values(), key=lambda o: -o.id)[:200]
        )
    keys = ", ".join(f"<code>{_e(k)}</code>" for k in cfg.coinpay24_api_keys)
    th = ", ".join(
        f"<code>{_e(k)}</code> / <code>{_e(s)}</code>"
        for k, s in cfg.coinpay_th_credentials.items()
    )
    body = (
        "<h1>saleor-cryptopay sandbox</h1>"
        f"<p>CoinPay24 base URL <code>{_e(cfg.base_url)}/coinpay24/v1</code>, api_key {keys}</p>"
        f"<p>CoinPay.in.th base URL <code>{_e(cfg.base_url)}/coinpay_th/api</code>, "
        f"key / secret {th}</p>"
        '<p>JSON: <a href="/_sandbox/callbacks">callbacks</a> &middot; '
        '<a href="/_sandbox/requests">request counts</a> &middot; '
        '<a href="/_sandbox/invoices">invoices</a> &middot; '
        '<a href="/_sandbox/orders">orders</a> &middot; '
        '<a href="/_sandbox/icoinpay/payouts">iCoinPay payouts</a></p>'
        "<h2>CoinPay24 invoices</h2><table><tr><th>id</th><th>order</th><th>status</th>"
        f"<th>amount</th><th></th></tr>{inv_rows}</table>"
        "<h2>CoinPay.in.th orders</h2><table><tr><th>id</th><th>reference</th><th>status</th>"
        f"<th>amount</th><th></th></tr>{order_rows}</table>"
        + _icoinpay_section(store, faults or [])
    )
    return layout("Sandbox", body)
