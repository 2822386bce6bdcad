"""The shopper's payment page: which invoices have one, and where it sends
the shopper back. CoinPay.in.th orders always had an address (and a bare
``bitcoin:`` URI as their only page), so existing ones get the page too."""

from django.db import migrations, models


def coinpay_th_has_a_page(apps, schema_editor):
    Invoice = apps.get_model("saleor_cryptopay", "Invoice")
    Invoice.objects.filter(provider="coinpay_th").exclude(address="").update(shopper_page=True)


class Migration(migrations.Migration):
    dependencies = [("saleor_cryptopay", "0005_invoice_ipn_checked_at")]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="shopper_page",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="invoice",
            name="return_url",
            field=models.CharField(blank=True, default="", max_length=1000),
        ),
        migrations.RunPython(coinpay_th_has_a_page, migrations.RunPython.noop),
    ]
