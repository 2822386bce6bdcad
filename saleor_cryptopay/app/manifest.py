"""The App manifest Saleor reads at install (``GET /api/manifest``)."""

from __future__ import annotations

from typing import Any

from .. import __version__

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
EVENT_BY_SLUG = {slug: event for event, (slug, _) in SUBSCRIPTIONS.items()}


def manifest(app_url: str) -> dict[str, Any]:
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
        "webhooks": [
            {
                "name": event.replace("_", " ").title(),
                "syncEvents": [event],
                "query": query,
                "targetUrl": f"{app_url}/api/webhooks/{slug}",
                "isActive": True,
            }
            for event, (slug, query) in SUBSCRIPTIONS.items()
        ],
    }
