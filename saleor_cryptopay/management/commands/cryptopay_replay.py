from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Process a stored callback again by its inbox id. The provider is asked for the "
        "invoice's current state; the callback's own fields are not trusted."
    )

    def add_arguments(self, parser):
        parser.add_argument("event_id", type=int)

    def handle(self, *args, event_id, **options):
        from ...plugin.replay import replay_event

        try:
            outcome, result = replay_event(event_id)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"callback #{event_id}: {outcome}: {result}")
