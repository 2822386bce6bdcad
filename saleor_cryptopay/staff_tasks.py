"""Staff tasks done by a person: one function for every place staff act
(``cryptopay_tasks --resolve``, the App's Dashboard page)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .models import StaffTask


class TaskNotOpen(Exception):
    pass


def resolve_task(task_id: int, *, note: str = "", by: str = "") -> StaffTask:
    """Mark an open task done; the note and who wrote it stay on the task."""
    with transaction.atomic():
        task = StaffTask.objects.select_for_update().filter(pk=task_id, resolved_at=None).first()
        if task is None:
            raise TaskNotOpen(f"no open task #{task_id}")
        note = note.strip()
        if note or by:
            task.message = f"{task.message}\nResolved{' by ' + by if by else ''}: {note or '-'}"
        task.resolved_at = timezone.now()
        task.save(update_fields=["message", "resolved_at"])
    return task
