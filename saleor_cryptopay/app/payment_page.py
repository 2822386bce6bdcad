"""The App's routes to the shopper's payment page (``/api/pay/<token>``) and
its status poll; the page itself is the core's (``payment_page``)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from ..models import Invoice
from ..payment_page.views import page_view, status_view
from .models import ChannelConfiguration, Installation

PAY_PATH = "/api/pay/"


def page_base() -> str:
    """Where ``contract.confirmation_data`` points invoices that have a page."""
    return f"{settings.APP_URL}{PAY_PATH}"


def _reread(invoice: Invoice) -> None:
    from .flow import sync_invoice  # flow builds the contract with page_base

    config = (
        ChannelConfiguration.objects.select_related("installation")
        .filter(
            installation__saleor_api_url=invoice.saleor_api_url,
            channel_slug=invoice.channel_slug,
            provider=invoice.provider,
            active=True,
        )
        .first()
    )
    if config is not None:
        sync_invoice(invoice.pk, config)


def _belongs(invoice: Invoice) -> bool:
    return bool(invoice.transaction_id)  # an App invoice, not a plugin's


def _shop_name(invoice: Invoice) -> str:
    """The App knows the shop by its Saleor's domain (no channel names)."""
    installation = Installation.objects.filter(saleor_api_url=invoice.saleor_api_url).first()
    return installation.domain if installation is not None else ""


def page(request: HttpRequest, token: str) -> HttpResponse:
    return page_view(request, token, shop_name=_shop_name, belongs=_belongs, reread=_reread)


def status(request: HttpRequest, token: str) -> HttpResponse:
    return status_view(request, token, belongs=_belongs, reread=_reread)
