"""The App manifest Saleor reads at install (``GET /api/manifest``)."""

from __future__ import annotations

from typing import Any, Optional

from .. import __version__
from .saleor_version import at_least

APP_ID = "saleor.cryptopay"  # also the payment gateway id storefronts use
REQUIRED_SALEOR_VERSION = ">=3.20 <4"

_SOURCE = """sourceObject {
        __typename
        ... on Checkout { id channel { slug name currencyCode } }
        ... on Order { id number channel { slug name currencyCode } }
      }"""
_COMMON = "issuedAt version recipient { id }"

# event name (as in the Saleor-Event header, upper-cased) → (URL slug, subscription)
SUBSCRIPTIONS: dict[str, tuple[str, str]] = {
    "PAYMENT_GATEWAY_INITIALIZE_SESSION": (
        "payment-gateway-initialize-session",
        f"""subscription {{ event {{ ... on PaymentGatewayInitializeSession {{
      {_COMMON} amount data
      {_SOURCE}
    }} }} }}""",
    ),
    "TRANSACTION_INITIALIZE_SESSION": (
        "transaction-initialize-session",
        f"""subscription {{ event {{ ... on TransactionInitializeSession {{
      {_COMMON} data merchantReference idempotencyKey
      transaction {{ id pspReference }}
      action {{ amount currency actionType }}
      {_SOURCE}
    }} }} }}""",
    ),
    "TRANSACTION_PROCESS_SESSION": (
        "transaction-process-session",
        f"""subscription {{ event {{ ... on TransactionProcessSession {{
      {_COMMON} data merchantReference
      transaction {{ id pspReference }}
      action {{ amount currency actionType }}
      {_SOURCE}
    }} }} }}""",
    ),
    "TRANSACTION_REFUND_REQUESTED": (
        "transaction-refund-requested",
        f"""subscription {{ event {{ ... on TransactionRefundRequested {{
      {_COMMON}
      transaction {{ id pspReference }}
      action {{ amount currency actionType }}
    }} }} }}""",
    ),
    "TRANSACTION_CANCELATION_REQUESTED": (
        "transaction-cancelation-requested",
        f"""subscription {{ event {{ ... on TransactionCancelationRequested {{
      {_COMMON}
      transaction {{ id pspReference }}
      action {{ amount currency actionType }}
    }} }} }}""",
    ),
}
# asynchronous events: Saleor tells the App, expects no answer
ASYNC_SUBSCRIPTIONS: dict[str, tuple[str, str]] = {
    "APP_DELETED": (
        "app-deleted",
        """subscription { event { ... on AppDeleted {
      issuedAt version recipient { id } app { id }
    } } }""",
    ),
}
EVENT_BY_SLUG = {
    slug: event for event, (slug, _) in {**SUBSCRIPTIONS, **ASYNC_SUBSCRIPTIONS}.items()
}


def extensions(app_url: str, saleor_version: Optional[str]) -> list[dict[str, Any]]:
    """The order page's crypto payment: a widget on Saleor 3.22+, an entry in
    the order's "more actions" menu (a popup) before, or when Saleor did not
    say its version."""
    widget = at_least(saleor_version, (3, 22))
    return [
        {
            "label": "Crypto payment",
            "mount": "ORDER_DETAILS_WIDGETS" if widget else "ORDER_DETAILS_MORE_ACTIONS",
            "target": "WIDGET" if widget else "POPUP",
            # Saleor accepts only the App's own permissions here; the page
            # itself asks for the staff user's MANAGE_ORDERS
            "permissions": [],
            "url": f"{app_url}/dashboard/order",
        }
    ]


def manifest(app_url: str, saleor_version: Optional[str] = None) -> dict[str, Any]:
    """``saleor_version``: the Saleor-Schema-Version Saleor sends with the fetch."""
    return {
        "id": APP_ID,
        "version": __version__,
        "name": "CryptoPay",
        "about": "CoinPay24 and CoinPay.in.th cryptocurrency payments on the Transactions API.",
        "permissions": ["HANDLE_PAYMENTS"],
        "appUrl": f"{app_url}/",
        "tokenTargetUrl": f"{app_url}/api/register",
        "requiredSaleorVersion": REQUIRED_SALEOR_VERSION,
        "author": "saleor-cryptopay",
        "brand": {"logo": {"default": f"{app_url}/dashboard/static/logo.png"}},
        "homepageUrl": f"{app_url}/dashboard/about",
        "supportUrl": f"{app_url}/dashboard/about#support",
        "dataPrivacyUrl": f"{app_url}/dashboard/about#privacy",
        "extensions": extensions(app_url, saleor_version),
        "webhooks": [
            {
                "name": event.replace("_", " ").title(),
                "syncEvents": [event],
                "query": query,
                "targetUrl": f"{app_url}/api/webhooks/{slug}",
                "isActive": True,
            }
            for event, (slug, query) in SUBSCRIPTIONS.items()
        ]
        + [
            {
                "name": event.replace("_", " ").title(),
                "asyncEvents": [event],
                "query": query,
                "targetUrl": f"{app_url}/api/webhooks/{slug}",
                "isActive": True,
            }
            for event, (slug, query) in ASYNC_SUBSCRIPTIONS.items()
        ],
    }
