from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Delete finished history (handled callbacks, resolved tasks, delivered reports, old "
        "address checks) older than --days; never anything unhandled, open, or needed by a "
        "refund in progress."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, help="keep this many days (default CRYPTOPAY_PRUNE_DAYS, 90)"
        )
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args, days=None, dry_run=False, **options):
        from ...prune import DEFAULT_DAYS, prune

        if days is None:
            days = getattr(settings, "CRYPTOPAY_PRUNE_DAYS", DEFAULT_DAYS)
        try:
            result = prune(timedelta(days=days), dry_run=dry_run)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(("would be " if dry_run else "") + result.summary())
