"""Refunds: what is owed and to which address (``request``), the shopper's
claim page, address checks, the payout queue that sends the coins, the
per-channel refund settings, and where the core meets each edition."""
