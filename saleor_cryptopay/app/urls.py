from django.urls import include, path

from . import callbacks, health, payment_page, refunds, views, webhooks
from .dashboard import views as dashboard

urlpatterns = [
    path("", dashboard.shell),
    path("", include("saleor_cryptopay.app.dashboard.urls")),
    path("api/manifest", views.manifest_view),
    path("api/health", health.health),
    path("api/register", views.register),
    path("api/webhooks/<slug:slug>", webhooks.webhook),
    path("api/callbacks/<str:key>", callbacks.provider_callback),
    path("api/claim/<str:token>", refunds.claim_page),
    path("api/pay/<str:token>", payment_page.page),
    path("api/pay/<str:token>/status", payment_page.status),
]
