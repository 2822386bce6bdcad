"""Second entry-point name for Saleor's plugin discovery.

Saleor adds each ``saleor.plugins`` entry point's name to INSTALLED_APPS, and
one name holds one plugin class, so the CoinPay.in.th plugin needs an app of
its own. It has no models: everything lives in ``saleor_cryptopay``.
"""
