"""The shopper's payment page for an invoice with an address: amounts,
address, QR code, countdown and live status, in English and Thai.

Edition-free: ``views`` answers from our invoice row; each edition mounts the
page and its status endpoint on its own route (the plugin on its channel
route, the App under ``/api/pay/``) and may pass a throttled re-read.
"""
