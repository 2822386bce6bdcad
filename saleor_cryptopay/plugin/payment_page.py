"""The plugin's route to the shopper's payment page and its status poll, on
the gateway's channel route (``…/plugins/channel/<slug>/<plugin-id>/pay/<token>``);
the page itself is the core's (``payment_page``)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from saleor.core.utils import build_absolute_uri
from saleor.order.models import Order

from ..models import Invoice
from ..payment_page.views import page_view, status_view
from .config import PAY_PREFIX
from .refunds import PLUGIN_IDS

if TYPE_CHECKING:
    from .base import CryptoGatewayPlugin

STATUS_SUFFIX = "/status"


def page_base(invoice: Invoice) -> str:
    """Where ``contract.confirmation_data`` points this invoice, if it has a page."""
    path = reverse(
        "plugins-per-channel",
        kwargs={"plugin_id": PLUGIN_IDS[invoice.provider], "channel_slug": invoice.channel_slug},
    )
    return urljoin(build_absolute_uri(path), PAY_PREFIX.lstrip("/"))


def _order_number(invoice: Invoice) -> str:
    if not invoice.order_id:
        return ""
    number = Order.objects.filter(pk=invoice.order_id).values_list("number", flat=True).first()
    return str(number) if number is not None else ""


def serve(plugin: CryptoGatewayPlugin, request: HttpRequest, rest: str) -> HttpResponse:
    """``rest``: what follows ``/pay/`` — the token, or the token and ``/status``."""
    from . import payments  # payments builds the contract with page_base

    settings = plugin.settings

    def belongs(invoice: Invoice) -> bool:
        # a token of another channel or gateway is not this route's
        return (
            invoice.provider == plugin.PROVIDER
            and invoice.channel_slug == plugin.channel_slug
            and invoice.payment_id is not None
        )

    def reread(invoice: Invoice) -> None:
        payments.sync_invoice(
            invoice.pk, plugin.build_bridge(), settings.underpaid_tolerance, origin="payment page"
        )

    rest = rest.rstrip("/")
    if rest.endswith(STATUS_SUFFIX):
        return status_view(request, rest[: -len(STATUS_SUFFIX)], belongs=belongs, reread=reread)
    shop = plugin.channel.name if plugin.channel else ""
    return page_view(
        request,
        rest,
        shop_name=lambda invoice: shop,
        order_number=_order_number,
        belongs=belongs,
        reread=reread,
    )
