"""Saleor adapter: plugin classes, the callback handler and Saleor-side effects.

Only this package (and the management commands/tasks that call it) imports Saleor.
"""
