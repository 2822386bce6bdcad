"""The Dashboard shell at ``appUrl``, its static files, and one route for
pages (GET) and one for actions (POST), each behind ``auth.authenticate``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from . import configuration, operations, order
from .auth import MANAGE_APPS, MANAGE_ORDERS, Refused, Staff, authenticate
from .html import Flash, e, page

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {
    "bridge.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "logo.svg": "image/svg+xml",
    "logo.png": "image/png",  # the manifest's brand logo (Saleor takes PNG)
}

Render = Callable[[Staff, HttpRequest, Optional[Flash]], str]
Act = Callable[[Staff, HttpRequest], tuple[str, Flash]]


def _home(staff: Staff, request: HttpRequest, flash: Optional[Flash]) -> str:
    installation = staff.installation
    rights = [
        ("configure channels and the payout wallet", MANAGE_APPS),
        ("act on tasks, refunds and callbacks", MANAGE_ORDERS),
    ]
    items = "".join(
        f"<li>{'✔' if staff.may(perm) else '✘'} {e(text)} ({perm})</li>" for text, perm in rights
    )
    body = (
        f"<section><p>Connected to <code>{e(installation.saleor_api_url)}</code> "
        f"as app <code>{e(installation.app_id)}</code>.</p>"
        f"<p>Signed in as <strong data-user>{e(staff.user)}</strong>. You may:</p>"
        f"<ul>{items}</ul></section>"
    )
    return page("CryptoPay", body, current="home", flash=flash)


# page name → (permission, render); filled in by the page modules below
PAGES: dict[str, tuple[Optional[str], Render]] = {
    "home": (None, _home),
    "configuration": (MANAGE_APPS, configuration.render),
    "operations": (MANAGE_ORDERS, operations.render),
    "order": (MANAGE_ORDERS, order.render),
}
# action name → (permission, act): act returns the page to show and its flash
ACTIONS: dict[str, tuple[str, Act]] = {
    "save-configuration": (MANAGE_APPS, configuration.save),
    "configuration-check": (MANAGE_APPS, configuration.run_checks),
    "configuration-activate": (MANAGE_APPS, configuration.set_active(True)),
    "configuration-deactivate": (MANAGE_APPS, configuration.set_active(False)),
    "resolve-task": (MANAGE_ORDERS, operations.resolve),
    "refund-retry": (MANAGE_ORDERS, operations.refund_action("retry")),
    "refund-mark-sent": (MANAGE_ORDERS, operations.refund_action("mark-sent")),
    "refund-address": (MANAGE_ORDERS, operations.refund_action("address")),
    "refund-new-link": (MANAGE_ORDERS, operations.refund_action("new-link")),
    "replay-callback": (MANAGE_ORDERS, operations.replay),
}


def shell(request: HttpRequest, page_name: str = "home") -> HttpResponse:
    """``appUrl`` (and each extension's URL): the page the Dashboard frames."""
    if not request.GET.get("saleorApiUrl"):
        return _plain(
            "CryptoPay",
            "<p class='refused'>Open CryptoPay from the Saleor Dashboard: Apps → CryptoPay.</p>",
        )
    theme = "light" if request.GET.get("theme") == "light" else "dark"
    base = e(settings.APP_URL)
    html = (
        f"<!doctype html><html lang='en' data-theme='{theme}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>CryptoPay</title><link rel='stylesheet' href='{base}/dashboard/static/"
        "dashboard.css'></head><body>"
        f"<main id='cryptopay' data-base='{base}' data-start='{e(page_name)}'>"
        "<p class='help'>Waiting for the Saleor Dashboard…</p>"
        "<noscript><p class='refused'>CryptoPay needs JavaScript inside the Dashboard."
        "</p></noscript></main>"
        f"<script src='{base}/dashboard/static/bridge.js'></script></body></html>"
    )
    return _html(html)


def about(request: HttpRequest) -> HttpResponse:
    """The manifest's homepage, support and data privacy URLs (public)."""
    return _plain(
        "CryptoPay for Saleor",
        "<p>CoinPay24 and CoinPay.in.th cryptocurrency payments for Saleor, with refunds "
        "paid back through iCoinPay. Staff configure and operate it from the Saleor "
        "Dashboard (Apps → CryptoPay).</p>"
        "<h2 id='support'>Support</h2><p>Ask the team that runs this App for your shop; "
        "the App's log and <code>cryptopay-app check</code> show what it sees.</p>"
        "<h2 id='privacy'>Data privacy</h2><p>The App stores, per payment: the Saleor "
        "transaction and checkout or order ids, amounts, the provider's invoice and its "
        "answers, and for refunds the address the shopper gives. Provider credentials and "
        "Saleor's token are stored encrypted. Nothing is shared beyond the payment "
        "provider and the Saleor that installed the App.</p>",
    )


def static(request: HttpRequest, name: str) -> HttpResponse:
    content_type = STATIC_TYPES.get(name)
    if content_type is None:
        return HttpResponse("not found", status=404, content_type="text/plain")
    response = HttpResponse((STATIC_DIR / name).read_bytes(), content_type=content_type)
    response["Cache-Control"] = "public, max-age=300"
    return response


def page_view(request: HttpRequest, name: str) -> HttpResponse:
    if request.method != "GET":
        return _fragment("<p class='refused'>GET only.</p>", 405)
    permission, render = PAGES.get(name, (None, None))
    if render is None:
        return _fragment("<p class='refused'>No such page.</p>", 404)
    try:
        staff = authenticate(request, permission)
    except Refused as exc:
        return _fragment(f"<p class='refused'>{e(exc.message)}</p>", exc.status)
    return _fragment(render(staff, request, None))


def action_view(request: HttpRequest, name: str) -> HttpResponse:
    if request.method != "POST":
        return _fragment("<p class='refused'>POST only.</p>", 405)
    permission, act = ACTIONS.get(name, (MANAGE_APPS, None))
    try:
        staff = authenticate(request, permission)
    except Refused as exc:
        return _fragment(f"<p class='refused'>{e(exc.message)}</p>", exc.status)
    if act is None:
        return _fragment("<p class='refused'>No such action.</p>", 404)
    page_name, flash = act(staff, request)
    logger.info("cryptopay-app: %s by %s: %s", name, staff.user, flash.status)
    _, render = PAGES[page_name]
    return _fragment(render(staff, request, flash), 200 if flash.status != "error" else 400)


def _fragment(html: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _html(html: str) -> HttpResponse:
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _plain(title: str, body: str) -> HttpResponse:
    base = e(settings.APP_URL)
    return _html(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<link rel='stylesheet' href='{base}/dashboard/static/dashboard.css'></head>"
        f"<body><main id='cryptopay'><h1>{e(title)}</h1>{body}</main></body></html>"
    )
