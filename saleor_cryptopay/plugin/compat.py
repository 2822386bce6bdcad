"""What differs between the Saleor versions the plugin runs on (3.20 LTS to
main), chosen by feature detection, never by version strings, so the rest of
the plugin reads as if there were one Saleor.

- 3.23.2+ (#19067, backported as #19091): ``calculate_checkout_total_with_gift_cards``
  lost its ``address`` parameter (the checkout's own address is used).
- 3.21+ (#16054): Celery tasks run as ``RestrictWriterDBTask``; writer-database
  work must sit inside ``allow_writer()`` (which 3.20 has too).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from saleor.checkout.calculations import calculate_checkout_total_with_gift_cards
from saleor.core.db.connection import allow_writer

if TYPE_CHECKING:
    from prices import TaxedMoney
    from saleor.checkout.models import Checkout

__all__ = ["TOTAL_TAKES_ADDRESS", "allow_writer", "checkout_total"]

TOTAL_TAKES_ADDRESS = (
    "address" in inspect.signature(calculate_checkout_total_with_gift_cards).parameters
)


def checkout_total(manager, checkout_info, lines, checkout: Checkout) -> TaxedMoney:
    """The checkout's total after gift cards, on every supported Saleor."""
    kwargs = {"manager": manager, "checkout_info": checkout_info, "lines": lines}
    if TOTAL_TAKES_ADDRESS:
        kwargs["address"] = checkout.shipping_address or checkout.billing_address
    return calculate_checkout_total_with_gift_cards(**kwargs)
