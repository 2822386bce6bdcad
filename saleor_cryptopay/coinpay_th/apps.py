from django.apps import AppConfig


class CoinPayThConfig(AppConfig):
    name = "saleor_cryptopay.coinpay_th"
    label = "saleor_cryptopay_coinpay_th"
    verbose_name = "Crypto payments: CoinPay.in.th"
