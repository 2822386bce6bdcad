"""A local HTTP server speaking the CoinPay24 and CoinPay.in.th wire protocols,
so merchants and tests can run whole payment flows without real coins.

No Django, no Saleor: stdlib + requests only. See README.md in this folder.
"""

from .server import SandboxServer
from .state import ActionError

__all__ = ["ActionError", "SandboxServer"]
