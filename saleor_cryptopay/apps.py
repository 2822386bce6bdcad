from django.apps import AppConfig


class CryptoPayConfig(AppConfig):
    name = "saleor_cryptopay"
    label = "saleor_cryptopay"
    verbose_name = "Crypto payments"
    default_auto_field = "django.db.models.BigAutoField"
