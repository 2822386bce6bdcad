from django.core.management.base import BaseCommand, CommandError

from ...money import plain_decimal


class Command(BaseCommand):
    help = (
        "List crypto refunds and act on one: enter the shopper's address, re-issue the "
        "claim link, retry a refused payout, or record coins sent by hand."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="include recorded refunds")
        parser.add_argument("--retry", type=int, metavar="ID", help="queue a failed payout again")
        parser.add_argument(
            "--not-sent",
            action="store_true",
            help="with --retry on an unknown outcome: you checked the wallet, nothing left",
        )
        parser.add_argument("--mark-sent", type=int, metavar="ID", help="coins sent by hand")
        parser.add_argument("--txid", help="with --mark-sent: the transaction id")
        parser.add_argument("--address", nargs=2, metavar=("ID", "ADDRESS"))
        parser.add_argument("--new-link", type=int, metavar="ID", help="re-issue the claim link")
        parser.add_argument("--by", default="staff", help="who acts (kept on the refund)")

    def handle(self, *args, **opts):
        from ...models import RefundRequest
        from ...refunds import editions
        from ...refunds import request as refunds

        edition = editions.load()
        try:
            if opts["retry"] is not None:
                refund = refunds.retry(opts["retry"], not_sent=opts["not_sent"])
                self.stdout.write(f"refund #{refund.pk} queued again")
            elif opts["mark_sent"] is not None:
                refund = refunds.mark_sent(
                    opts["mark_sent"], txid=opts["txid"] or "", by=opts["by"]
                )
                if edition is not None:
                    edition.record_sent(refund)
                self.stdout.write(f"refund #{refund.pk} recorded as sent ({refund.txid})")
            elif opts["address"]:
                pk, address = opts["address"]
                checker = (
                    edition.payout_client(RefundRequest.objects.get(pk=int(pk)))
                    if edition
                    else None
                )
                refund = refunds.set_address(int(pk), address, by=opts["by"], checker=checker)
                self.stdout.write(f"refund #{refund.pk} queued to {refund.address}")
            elif opts["new_link"] is not None:
                refund = refunds.renew_claim(opts["new_link"])
                self.stdout.write(f"refund #{refund.pk}: {self._link(edition, refund)}")
            else:
                self._list(RefundRequest, edition, opts["all"])
        except (refunds.RefundError, RefundRequest.DoesNotExist) as exc:
            raise CommandError(str(exc)) from None

    def _link(self, edition, refund) -> str:
        if edition is None:
            return "(no edition installed to serve the link)"
        return edition.claim_url(refund)

    def _list(self, model, edition, everything: bool) -> None:
        rows = model.objects.select_related("invoice").order_by("pk")
        if not everything:
            rows = rows.exclude(status=model.Status.SENT, recorded_at__isnull=False)
        count = 0
        for r in rows:
            line = (
                f"#{r.pk} [{r.status}] {r.fiat_text} = {r.coins_text} "
                f"(channel {r.channel_slug}, order {r.order_id or '-'}, "
                f"{r.invoice.provider} invoice {r.invoice.provider_invoice_id})"
            )
            if r.address:
                line += f" to {r.address}"
            if r.payout_id or r.txid:
                line += f", payout {r.payout_id or r.txid}"
            if r.refused_reason:
                line += f": {r.refused_reason}"
            if r.status == model.Status.AWAITING_ADDRESS and r.claim_nonce:
                line += f"; claim link: {self._link(edition, r)}"
            self.stdout.write(line)
            count += 1
        if not count:
            self.stdout.write("No refunds in progress.")
        from ...models import WalletBalance

        for wallet in WalletBalance.objects.order_by("currency"):
            self.stdout.write(
                f"{wallet.provider} wallet: {plain_decimal(wallet.balance)} {wallet.currency} "
                f"after the last payout ({wallet.updated_at:%Y-%m-%d %H:%M})"
            )
