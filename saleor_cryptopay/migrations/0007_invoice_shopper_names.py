from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("saleor_cryptopay", "0006_payment_page")]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="shop_name",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.AddField(
            model_name="invoice",
            name="order_number",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
    ]
