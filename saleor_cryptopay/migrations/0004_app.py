"""App edition: an invoice may belong to a Saleor TransactionItem (App,
Transactions API) instead of a legacy Payment (plugin). Both new columns are
nullable, so existing plugin invoices are untouched."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("saleor_cryptopay", "0003_refunds")]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="saleor_api_url",
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddField(
            model_name="invoice",
            name="transaction_id",
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.UniqueConstraint(
                condition=models.Q(transaction_id__isnull=False),
                fields=("saleor_api_url", "transaction_id"),
                name="cryptopay_one_invoice_per_transaction",
            ),
        ),
    ]
