from django.apps import AppConfig


class CryptoPayConfig(AppConfig):
    name = "saleor_cryptopay"
    label = "saleor_cryptopay"
    verbose_name = "Crypto payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import log_redaction

        # both editions install this app: the plugin in Saleor, the App service
        log_redaction.install()
