from django.core.management.base import BaseCommand, CommandError

from ...setup_checks import CHECKS, Level


class Command(BaseCommand):
    help = (
        "Check every active crypto gateway configuration as the provider sees it: "
        "credentials (one cheap API call) and whether callbacks can ever arrive. "
        "Exits non-zero when something will not work."
    )

    def add_arguments(self, parser):
        parser.add_argument("--channel", help="only this channel slug")
        parser.add_argument("--provider", choices=sorted(CHECKS))

    def handle(self, *args, channel=None, provider=None, **options):
        # lazily: the plugin layer imports Saleor
        from ...plugin.setup_checks import check_all

        results = check_all(channel=channel, provider=provider)
        if not results:
            self.stdout.write("No active crypto gateway configuration.")
        failed = 0
        for result in results:
            self.stdout.write(result.summary())
            failed += sum(1 for f in result.findings if f.level is Level.ERROR)
        if failed:
            raise CommandError(f"{failed} problem(s) will stop payments or callbacks.")
