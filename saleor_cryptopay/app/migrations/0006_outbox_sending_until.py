from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("cryptopay_app", "0005_installation_removed_and_version")]

    operations = [
        migrations.AddField(
            model_name="outboxreport",
            name="sending_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
