"""URLs for the browser test of the core claim page (no Saleor route here)."""

from django.urls import path

from saleor_cryptopay.refunds.claim_page import claim_view

from . import refund_edition


def claim(request, token):
    return claim_view(request, token, checker=refund_edition.payout_client(None), shop="Test shop")


urlpatterns = [path("claim/<str:token>", claim)]
