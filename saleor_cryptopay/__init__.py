"""Cryptocurrency payment gateways (CoinPay24, CoinPay.in.th) for Saleor.

This module is the Django app registered through the ``saleor.plugins`` entry
point. It must stay importable without Saleor, so it imports nothing here.
"""

__version__ = "0.3.0"
