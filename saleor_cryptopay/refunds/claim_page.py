"""The refund claim page: the shopper gives the address the coins go back to.

Server-rendered, no JavaScript, every value escaped. The link's signed token
is the only credential (there is no session), so a form post without it, or
with a spent one, changes nothing. Served by each edition's own route.
"""

from __future__ import annotations

from html import escape
from typing import Optional

from django.http import HttpRequest, HttpResponse

from ..money import format_amount
from ..providers.icoinpay import ICoinPayClient
from .request import AddressRejected, ClaimError, claim, open_claim

_CSS = (
    # border-box: the address input's width:100% plus padding overflowed the card
    "*,*::before,*::after{box-sizing:border-box}"
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}.box{border:1px solid #ccc;border-radius:8px;padding:1rem;margin:1rem 0}"
    ".err{background:#fee;border:1px solid #c33;padding:.5rem}"
    "input[type=text]{width:100%;padding:.4rem;font-family:monospace}"
    "button{margin-top:.6rem;padding:.4rem 1rem}code{word-break:break-all}"
)


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _page(title: str, body: str, status: int = 200) -> HttpResponse:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<meta name='robots' content='noindex'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>{body}</body></html>"
    )
    response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    # the token is in the URL: keep it out of caches and other sites' logs
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Frame-Options"] = "DENY"
    return response


def claim_view(
    request: HttpRequest,
    token: str,
    *,
    checker: Optional[ICoinPayClient],
    shop: str = "",
    channel: Optional[str] = None,
    order_number: str = "",
) -> HttpResponse:
    """GET: the amount and an address form. POST: the address (claims the
    refund). ``channel``: the route's channel; a token of another is refused.
    ``shop`` and ``order_number``: what the shopper knows (the edition's
    current names), else what the invoice recorded; never Saleor's ids."""
    if request.method not in ("GET", "HEAD", "POST"):
        return _page("Refund", "<p>Method not allowed.</p>", 405)
    try:
        refund = open_claim(token)
    except ClaimError as exc:
        return _page("Refund link", f'<p class="err">{_e(exc)}</p>', 410)
    if channel is not None and refund.channel_slug != channel:
        return _page("Refund link", '<p class="err">This refund link is not valid.</p>', 404)
    error = None
    address = ""
    if request.method == "POST":
        address = str(request.POST.get("address", ""))[:200]
        try:
            refund = claim(token, address, checker=checker)
        except AddressRejected as exc:
            error = str(exc)
        except ClaimError as exc:
            return _page("Refund link", f'<p class="err">{_e(exc)}</p>', 410)
        else:
            return _done(refund)
    shop = shop or refund.invoice.shop_name
    order_number = order_number or refund.invoice.order_number
    return _form(refund, shop, order_number, error, address, 400 if error else 200)


def _amounts(refund) -> str:
    fiat = format_amount(refund.amount, refund.currency)
    coins = format(refund.crypto_amount.normalize(), "f")
    return (
        f"<p>Refund: <strong>{_e(fiat)} {_e(refund.currency)}</strong>, paid back as "
        f"<strong>{_e(coins)} {_e(refund.coin)}</strong>.</p>"
    )


def _form(
    refund, shop: str, order_number: str, error: Optional[str], address: str, status: int
) -> HttpResponse:
    order = f" for order #{_e(order_number)}" if order_number else ""
    body = (
        f"<p>{_e(shop) or 'The shop'} is refunding your crypto payment{order}.</p>"
        f'<div class="box">{_amounts(refund)}'
        + (f'<p class="err" role="alert">{_e(error)}</p>' if error else "")
        + '<form method="post">'
        f'<label for="address">Your {_e(refund.coin)} address (iCoinPay wallet)</label>'
        f'<input type="text" id="address" name="address" value="{_e(address)}" required '
        'autocomplete="off" spellcheck="false">'
        '<button type="submit">Send my refund here</button></form></div>'
        "<p>Check the address carefully: coins sent to a wrong address cannot be recovered. "
        "This link works once.</p>"
    )
    return _page("Claim your refund", body, status)


def _done(refund) -> HttpResponse:
    body = (
        f'<div class="box">{_amounts(refund)}'
        f"<p>It will be sent to <code>{_e(refund.address)}</code>.</p></div>"
        "<p>Thank you. The shop sends refunds in batches: the coins usually arrive within "
        "a few hours. You can close this page.</p>"
    )
    return _page("Refund address received", body)
