"""Saleor App edition: the same gateways on Saleor's Transactions API.

This package never imports Saleor: Saleor reaches it through signed webhooks
and it answers through Saleor's GraphQL API.
"""
