"""The page and its status endpoint, answered from our invoice row.

The token is the only credential; a wrong one gets the same bare 404 as a
tampered one. A poll never calls the provider by itself: an edition may pass
``reread``, which runs only when the invoice's shared re-read slot
(``sync.claim_reread``, once per 30 s per invoice whoever asks) is free.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import Context, Engine
from django.utils import timezone, translation

from ..models import Invoice
from ..providers.status import PaymentStatus
from ..sync import claim_reread
from .state import PageFacts, page_facts
from .token import open_page

logger = logging.getLogger(__name__)

# (code, name in its own language): CoinPay.in.th is a Thai provider
LANGUAGES = (("en", "English"), ("th", "ไทย"))
DEFAULT_LANGUAGE = "en"
POLL_SECONDS = 5  # JavaScript on: a small JSON poll
REFRESH_SECONDS = 15  # JavaScript off: the page reloads itself
RETURN_DELAY = 4  # seconds of "Paid" before the shopper is sent back

Reread = Callable[[Invoice], object]
Belongs = Callable[[Invoice], bool]

_ENGINE = Engine(
    dirs=[str(Path(__file__).parent / "templates")],
    libraries={"i18n": "django.templatetags.i18n"},
)


def choose_language(request: HttpRequest) -> str:
    """``?lang=`` (the page's switch), else the browser's first language we have."""
    codes = [code for code, _ in LANGUAGES]
    asked = request.GET.get("lang", "")
    if asked in codes:
        return asked
    ranked = []
    for i, part in enumerate(request.META.get("HTTP_ACCEPT_LANGUAGE", "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if quality > 0:  # q=0: "not this one"
            ranked.append((-quality, i, tag.split("-")[0].strip().lower()))
    for _, _, code in sorted(ranked):
        if code in codes:
            return code
    return DEFAULT_LANGUAGE


def _open(token: str, belongs: Optional[Belongs]) -> Optional[Invoice]:
    invoice = open_page(token)
    if invoice is None or (belongs is not None and not belongs(invoice)):
        return None
    return invoice


def _fresh(invoice: Invoice, reread: Optional[Reread]) -> Invoice:
    """The invoice, re-read from the provider first when the shared slot is
    free (a lost callback must not strand a shopper who paid)."""
    status = invoice.payment_status
    if reread is None or not (status.is_open or status is PaymentStatus.UNDERPAID):
        return invoice
    overdue = invoice.expires_at is not None and invoice.expires_at <= timezone.now()
    if not claim_reread(invoice.pk, count_creation=not overdue):
        return invoice
    try:
        reread(invoice)
    except Exception:  # the stored state is still true: show it
        logger.exception("cryptopay: payment page re-read of invoice %s failed", invoice.pk)
    invoice.refresh_from_db()
    return invoice


def _private(response: HttpResponse, nonce: str = "") -> HttpResponse:
    # the token is in the URL: keep it out of caches and other sites' logs
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Frame-Options"] = "DENY"
    response["X-Content-Type-Options"] = "nosniff"
    script = f"'nonce-{nonce}'" if nonce else "'none'"
    response["Content-Security-Policy"] = (
        f"default-src 'none'; img-src data:; style-src {script}; script-src {script}; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return response


def not_found() -> HttpResponse:
    """The same answer for a wrong, tampered or foreign token: it reveals nothing."""
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<meta name='robots' content='noindex'><title>Not found</title></head>"
        "<body><h1>Not found</h1><p>This payment link is not valid.</p></body></html>"
    )
    return _private(HttpResponse(html, status=404, content_type="text/html; charset=utf-8"))


def _timer(seconds: Optional[int]) -> str:
    seconds = seconds or 0
    return f"{seconds // 60}:{seconds % 60:02d}"


def render_page(
    facts: PageFacts, *, lang: str, shop_name: str, order_number: str, status_url: str
) -> tuple[str, str]:
    """The page's HTML and the nonce its inline style and script carry."""
    nonce = secrets.token_urlsafe(16)
    context = {
        "facts": facts,
        "lang": lang,
        "languages": LANGUAGES,
        "shop_name": shop_name,
        "order_number": order_number,
        "status_url": status_url,
        "poll_seconds": POLL_SECONDS,
        "refresh_seconds": REFRESH_SECONDS,
        "return_delay": RETURN_DELAY,
        "timer": _timer(facts.seconds_left),
        "nonce": nonce,
    }
    with translation.override(lang):
        html = _ENGINE.get_template("cryptopay/payment_page.html").render(Context(context))
    return html, nonce


def page_view(
    request: HttpRequest,
    token: str,
    *,
    shop_name: Callable[[Invoice], str] = lambda invoice: "",
    order_number: Callable[[Invoice], str] = lambda invoice: "",
    belongs: Optional[Belongs] = None,
    reread: Optional[Reread] = None,
) -> HttpResponse:
    """The shopper's page. ``belongs``: the route's check (the plugin's
    channel and provider); ``shop_name`` and ``order_number`` (the number the
    shopper knows, if any) are the edition's."""
    if request.method not in ("GET", "HEAD"):
        return _private(HttpResponse("Method not allowed.", status=405, content_type="text/plain"))
    invoice = _open(token, belongs)
    if invoice is None:
        return not_found()
    invoice = _fresh(invoice, reread)
    lang = choose_language(request)
    html, nonce = render_page(
        page_facts(invoice),
        lang=lang,
        shop_name=shop_name(invoice),
        order_number=order_number(invoice),
        status_url=request.path.rstrip("/") + "/status",
    )
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Language"] = lang
    response["Vary"] = "Accept-Language"
    return _private(response, nonce)


def status_view(
    request: HttpRequest,
    token: str,
    *,
    belongs: Optional[Belongs] = None,
    reread: Optional[Reread] = None,
) -> HttpResponse:
    """The page's poll: the state as stored (and re-read at most once per slot)."""
    if request.method not in ("GET", "HEAD"):
        return _private(JsonResponse({"error": "method not allowed"}, status=405))
    invoice = _open(token, belongs)
    if invoice is None:
        return _private(JsonResponse({"error": "not found"}, status=404))
    facts = page_facts(_fresh(invoice, reread))
    return _private(JsonResponse(facts.status_json()))
