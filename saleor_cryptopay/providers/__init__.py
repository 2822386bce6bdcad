"""Provider clients: plain HTTP, no Django, no Saleor."""

from .errors import ProviderError
from .status import PaymentStatus

__all__ = ["PaymentStatus", "ProviderError"]
