"""The plugin edition's pruning: ``saleor_cryptopay.prune`` is found by
Saleor's Celery worker and applies the core rules (tests/core/test_prune.py)
to the plugin's tables inside Saleor's database."""

from datetime import timedelta

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

from django.utils import timezone  # noqa: E402

from saleor_cryptopay.models import CallbackEvent  # noqa: E402

pytestmark = pytest.mark.django_db


def test_prune_task_is_registered_and_keeps_unhandled_callbacks():
    from saleor.celeryconf import app

    from saleor_cryptopay import tasks

    assert app.tasks["saleor_cryptopay.prune"].name == tasks.prune_task.name
    old = timezone.now() - timedelta(days=100)
    handled = CallbackEvent.objects.create(provider="coinpay24", received_at=old,
                                           outcome=CallbackEvent.Outcome.PROCESSED)  # fmt: skip
    unhandled = CallbackEvent.objects.create(provider="coinpay24", received_at=old)
    summary = tasks.prune_task.delay().get()  # eager in Saleor's test settings
    assert "1 callbacks" in summary and "delivered reports" not in summary  # no App tables
    assert not CallbackEvent.objects.filter(pk=handled.pk).exists()
    assert CallbackEvent.objects.filter(pk=unhandled.pk).exists()
