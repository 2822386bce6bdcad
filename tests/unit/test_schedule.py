"""The plugin's beat entries (``schedule.py``); Saleor's own Celery app
loading them is tested in tests/saleor/test_celery_schedule.py."""

from datetime import timedelta

import pytest

from saleor_cryptopay.schedule import ScheduleError, beat_entries, register

ALL = {"saleor_cryptopay.reconcile", "saleor_cryptopay.payouts", "saleor_cryptopay.prune"}


def test_defaults_cover_the_defined_tasks_only():
    entries = beat_entries(None, ALL - {"saleor_cryptopay.prune"})
    assert entries == {
        "cryptopay-reconcile": {
            "task": "saleor_cryptopay.reconcile",
            "schedule": timedelta(minutes=5),
        },
        "cryptopay-payouts": {"task": "saleor_cryptopay.payouts", "schedule": timedelta(minutes=1)},
    }
    assert beat_entries({}, ALL)["cryptopay-prune"]["schedule"] == timedelta(days=1)


def test_setting_changes_intervals_and_turns_tasks_off():
    entries = beat_entries({"reconcile": 600, "payouts": None, "prune": 0}, ALL)
    assert entries == {
        "cryptopay-reconcile": {
            "task": "saleor_cryptopay.reconcile",
            "schedule": timedelta(minutes=10),
        }
    }
    assert beat_entries(False, ALL) == {}
    assert beat_entries({"payouts": timedelta(seconds=30)}, ALL)["cryptopay-payouts"][
        "schedule"
    ] == (timedelta(seconds=30))


def test_unknown_names_and_values_are_refused_loudly():
    with pytest.raises(ScheduleError, match="unknown reconcilliation"):
        beat_entries({"reconcilliation": 60}, ALL)
    with pytest.raises(ScheduleError, match="not seconds"):
        beat_entries({"reconcile": "5m"}, ALL)


def test_an_entry_the_operator_wrote_is_kept():
    mine = {"task": "saleor_cryptopay.reconcile", "schedule": timedelta(hours=1)}
    schedule = {"cryptopay-reconcile": mine, "other": {}}
    added = register(schedule, None, ALL)
    assert added == ["cryptopay-payouts", "cryptopay-prune"]
    assert schedule["cryptopay-reconcile"] is mine and "other" in schedule
