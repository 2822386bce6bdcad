"""The plugin's periodic tasks, as entries for Saleor's Celery beat.

``tasks.py`` adds them to Saleor's Celery app when its worker or beat loads
the module, so nobody edits Saleor's ``settings.py``. Intervals come from
the ``CRYPTOPAY_SCHEDULE`` setting (short name → seconds or timedelta;
``None`` or 0 turns one off; ``CRYPTOPAY_SCHEDULE = False`` turns all off).
An entry already in ``CELERY_BEAT_SCHEDULE`` under the same key wins.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Optional

# short name → (task name, default interval)
PERIODIC = {
    "reconcile": ("saleor_cryptopay.reconcile", timedelta(minutes=5)),
    "payouts": ("saleor_cryptopay.payouts", timedelta(minutes=1)),
    "prune": ("saleor_cryptopay.prune", timedelta(days=1)),
}


class ScheduleError(ValueError):
    pass


def entry_key(short_name: str) -> str:
    return f"cryptopay-{short_name}"


def interval(value: Any) -> Optional[timedelta]:
    """A configured interval; None when turned off."""
    if value in (None, 0, False):
        return None
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result = timedelta(seconds=value)
    else:
        raise ScheduleError(f"CRYPTOPAY_SCHEDULE: {value!r} is not seconds or a timedelta")
    if result <= timedelta(0):
        return None
    return result


def beat_entries(configured: Any, defined: set[str]) -> dict[str, dict[str, Any]]:
    """Beat entries for the periodic tasks that exist (``defined`` task names)
    and are not turned off by ``configured`` (the setting's value)."""
    if configured is False:
        return {}
    configured = configured or {}
    unknown = sorted(set(configured) - set(PERIODIC))
    if unknown:
        raise ScheduleError(
            f"CRYPTOPAY_SCHEDULE: unknown {', '.join(unknown)}; use {', '.join(PERIODIC)}"
        )
    entries = {}
    for short_name, (task, default) in PERIODIC.items():
        every = interval(configured.get(short_name, default))
        if every is not None and task in defined:
            entries[entry_key(short_name)] = {"task": task, "schedule": every}
    return entries


def register(beat_schedule: dict[str, Any], configured: Any, defined: set[str]) -> list[str]:
    """Add the entries to ``beat_schedule`` (Saleor's ``CELERY_BEAT_SCHEDULE``)
    in place, keeping any the operator wrote; returns the keys added."""
    added = []
    for key, entry in beat_entries(configured, defined).items():
        if key not in beat_schedule:
            beat_schedule[key] = entry
            added.append(key)
    return added
