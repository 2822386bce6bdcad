"""Provider bridges: the provider clients seen through the invoice model.

Each bridge turns "create/read/list" into values the payment layer stores and
decides on. No Saleor here.
"""

from .base import Created, Observed, ProviderBridge

__all__ = ["Created", "Observed", "ProviderBridge"]
