from django.apps import AppConfig


class CryptoPayAppConfig(AppConfig):
    name = "saleor_cryptopay.app"
    label = "cryptopay_app"
    verbose_name = "Crypto payments (Saleor App)"
    default_auto_field = "django.db.models.BigAutoField"
