from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "List what needs a person (late, short, double or unmatched crypto payments, "
        "refunds to send), or mark a task done."
    )

    def add_arguments(self, parser):
        parser.add_argument("--resolve", type=int, metavar="TASK_ID", help="mark a task done")
        parser.add_argument("--all", action="store_true", help="include resolved tasks")

    def handle(self, *args, resolve=None, all=False, **options):  # noqa: A002
        from ...models import StaffTask

        if resolve is not None:
            from ...staff_tasks import TaskNotOpen, resolve_task

            try:
                resolve_task(resolve)
            except TaskNotOpen as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"task #{resolve} resolved")
            return
        tasks = StaffTask.objects.select_related("invoice")
        if not all:
            tasks = tasks.filter(resolved_at=None)
        count = 0
        for task in tasks.order_by("created_at"):
            inv = task.invoice
            state = "open" if task.resolved_at is None else "resolved"
            self.stdout.write(
                f"#{task.pk} [{state}] {task.kind}: {inv.provider} invoice "
                f"{inv.provider_invoice_id} ({inv.amount} {inv.currency}, {inv.status}, "
                f"channel {inv.channel_slug}, payment {inv.payment_id}, "
                f"order {inv.order_id or '-'}): {task.message}"
            )
            count += 1
        if not count:
            self.stdout.write("Nothing needs attention.")
