from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Bring open crypto invoices up to date from the providers (for callbacks that "
        "never came). Uses list endpoints and a per-channel call budget."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="only this channel slug")
        parser.add_argument("--provider", choices=["coinpay24", "coinpay_th"])
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change; change nothing"
        )
        parser.add_argument(
            "--all-pages",
            action="store_true",
            help="list every page (an audit for payments we have no record of); costs more calls",
        )

    def handle(self, *args, channel=None, provider=None, dry_run=False, **options):
        from ...plugin.reconcile import reconcile_all

        reports = reconcile_all(
            channel=channel,
            provider=provider,
            dry_run=dry_run,
            exhaustive=options.get("all_pages", False),
        )
        if not reports:
            self.stdout.write("No active crypto gateway configuration.")
        for report in reports:
            self.stdout.write(report.summary())
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
