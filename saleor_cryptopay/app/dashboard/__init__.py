"""The App's pages inside the Saleor Dashboard: the iframe shell at ``appUrl``
(AppBridge handshake in ``static/bridge.js``), token checks, and the pages
staff use to configure channels and act on payments, refunds and callbacks.
Everything acts through the same core functions as ``cryptopay-app``."""
