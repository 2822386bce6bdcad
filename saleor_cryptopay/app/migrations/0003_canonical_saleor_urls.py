"""Saleor API URLs in their one canonical spelling (``normalise_api_url``),
so that an installation stored as ``http://localhost:8000/graphql`` is still
found by a webhook naming it ``http://127.0.0.1:8000/graphql/``."""

from django.db import migrations

from saleor_cryptopay.app.saleor_api import normalise_api_url


def canonicalise(apps, schema_editor) -> None:
    installation_model = apps.get_model("cryptopay_app", "Installation")
    invoice_model = apps.get_model("saleor_cryptopay", "Invoice")
    taken = set(installation_model.objects.values_list("saleor_api_url", flat=True))
    for installation in installation_model.objects.order_by("-updated_at"):
        old = installation.saleor_api_url
        new = normalise_api_url(old)
        if not new or new == old:
            continue
        if new in taken:
            # two rows for one Saleor: the most recently updated keeps the
            # canonical name; the other stays as it was (nothing is deleted)
            print(f"\n  cryptopay-app: {old} left as is: {new} is installed too")
            continue
        taken.discard(old)
        taken.add(new)
        installation.saleor_api_url = new
        installation.save(update_fields=["saleor_api_url"])
        invoice_model.objects.filter(saleor_api_url=old).update(saleor_api_url=new)


class Migration(migrations.Migration):
    dependencies = [
        ("cryptopay_app", "0002_refunds"),
    ]

    operations = [migrations.RunPython(canonicalise, migrations.RunPython.noop)]
