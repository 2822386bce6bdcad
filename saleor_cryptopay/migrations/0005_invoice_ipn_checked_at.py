"""A callback verified by a provider call (CoinPay.in.th's verifyipn) is
limited per invoice: these columns count them. Nullable or defaulted, so
existing invoices are untouched."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("saleor_cryptopay", "0004_app")]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="ipn_checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="invoice",
            name="ipn_checks",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
