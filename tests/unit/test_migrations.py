"""Migrations stay in step with the models and in one line per app: branches
that each add a migration must be renumbered when they meet, or Django refuses
to migrate ("multiple leaf nodes")."""

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command


@pytest.mark.django_db
def test_no_missing_or_conflicting_migrations():
    labels = [label for label in ("saleor_cryptopay", "cryptopay_app") if label in apps.app_configs]
    out = StringIO()
    try:
        call_command("makemigrations", *labels, check=True, dry_run=True, stdout=out, stderr=out)
    except SystemExit:
        pytest.fail(f"models changed without a migration:\n{out.getvalue()}")
