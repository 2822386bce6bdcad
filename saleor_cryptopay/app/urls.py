from django.urls import include, path

from . import callbacks, refunds, views, webhooks
from .dashboard import views as dashboard

urlpatterns = [
    path("", dashboard.shell),
    path("", include("saleor_cryptopay.app.dashboard.urls")),
    path("api/manifest", views.manifest_view),
    path("api/register", views.register),
    path("api/webhooks/<slug:slug>", webhooks.webhook),
    path("api/callbacks/<str:key>", callbacks.provider_callback),
    path("api/claim/<str:token>", refunds.claim_page),
]
