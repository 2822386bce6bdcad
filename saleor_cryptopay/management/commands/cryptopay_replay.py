from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Process stored callbacks again: one by its inbox id, or --failed for every "
        "invoice with a failed callback. The provider is asked for each invoice's "
        "current state; the callbacks' own fields are not trusted."
    )

    def add_arguments(self, parser):
        parser.add_argument("event_id", type=int, nargs="?")
        parser.add_argument(
            "--failed",
            action="store_true",
            help="replay the failed callbacks (one per invoice), e.g. after an upgrade",
        )

    def handle(self, *args, event_id=None, failed=False, **options):
        from ...plugin.replay import failed_events, replay_event

        if (event_id is None) == (not failed):
            raise CommandError("give a callback id or --failed (not both)")
        ids = failed_events() if failed else [event_id]
        errors = 0
        for pk in ids:
            try:
                outcome, result = replay_event(pk)
            except LookupError as exc:
                if not failed:
                    raise CommandError(str(exc)) from None
                errors += 1
                outcome, result = "error", str(exc)
            self.stdout.write(f"callback #{pk}: {outcome}: {result}")
        if failed:
            self.stdout.write(f"{len(ids)} replayed, {errors} could not be")
