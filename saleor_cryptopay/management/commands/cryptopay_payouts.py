from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Send queued crypto refunds with iCoinPay (exactly once; safe to run in several "
        "workers at once) and record sent refunds in the shop."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=50, help="payouts per run (default 50)")

    def handle(self, *args, limit=50, **options):
        from ...refunds.editions import load, process_payouts

        if load() is None:
            self.stdout.write("No edition installed (Saleor plugin or App): nothing to do.")
            return
        outcomes = process_payouts(limit=limit)
        for outcome in outcomes:
            self.stdout.write(outcome.summary())
        if not outcomes:
            self.stdout.write("Nothing to send.")
