"""``cryptopay-app``: serve the App and run its chores.

cryptopay-app [--json-logs] serve [--host 127.0.0.1] [--port 8080] [--threads 8]
cryptopay-app migrate
cryptopay-app configure --saleor-api-url URL --channel SLUG --provider coinpay24
                        [--api-key-file PATH | --prompt | $CRYPTOPAY_API_KEY | --api-key K]
cryptopay-app reconcile [--saleor-api-url URL] [--channel SLUG] [--provider P] [--dry-run]
cryptopay-app tasks [--resolve ID] [--all]
cryptopay-app replay CALLBACK_ID
cryptopay-app payouts [--limit 50]
cryptopay-app refunds [--all] [--retry ID [--not-sent]] [--mark-sent ID --txid T]
                      [--address ID ADDRESS] [--new-link ID]
cryptopay-app prune [--days 90] [--dry-run]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Optional

from ..gateway_config import (
    COMMON_FIELDS,
    PROVIDER_FIELDS,
    PROVIDER_NAMES,
    REFUND_FIELDS,
    SECRET_FIELDS,
    SECRET_REFUND_FIELDS,
)
from .secret_input import SecretInputError, read_secrets
from .secret_input import add_options as add_secret_options

SETTINGS = "saleor_cryptopay.app.settings"
CONFIG_FIELDS = sorted(
    set(COMMON_FIELDS)
    | set(REFUND_FIELDS)
    | {f for fields in PROVIDER_FIELDS.values() for f in fields}
)
SECRET_OPTIONS = sorted(
    {f for fields in SECRET_FIELDS.values() for f in fields} | set(SECRET_REFUND_FIELDS)
)


def _setup() -> None:
    # the App is its own project: a DJANGO_SETTINGS_MODULE left in the shell
    # (a Saleor's, say) must not decide; CRYPTOPAY_APP_SETTINGS may
    os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("CRYPTOPAY_APP_SETTINGS") or SETTINGS
    import django

    django.setup()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cryptopay-app", description=__doc__.split("\n")[0])
    p.add_argument(
        "--json-logs",
        action="store_true",
        help="one JSON object per log line (or CRYPTOPAY_APP_JSON_LOGS=1)",
    )
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="apply migrations, then serve the App (waitress)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--threads", type=int, default=8)
    sub.add_parser("migrate", help="create or upgrade the App's database tables")

    conf = sub.add_parser("configure", help="offer a provider in a channel of an installed Saleor")
    conf.add_argument("--saleor-api-url", required=True)
    conf.add_argument("--channel", required=True, help="channel slug")
    conf.add_argument("--provider", required=True, choices=sorted(PROVIDER_NAMES))
    add_secret_options(conf, SECRET_OPTIONS)
    for name in CONFIG_FIELDS:
        conf.add_argument("--" + name.replace("_", "-"), dest=name)
    conf.add_argument("--inactive", action="store_true", help="save, but do not offer it")
    conf.add_argument(
        "--no-check", action="store_true", help="save without asking the provider first"
    )

    rec = sub.add_parser("reconcile", help="bring open invoices up to date; resend reports")
    rec.add_argument("--saleor-api-url")
    rec.add_argument("--channel")
    rec.add_argument("--provider", choices=sorted(PROVIDER_NAMES))
    rec.add_argument("--dry-run", action="store_true")

    tasks = sub.add_parser("tasks", help="list what needs a person, or resolve a task")
    tasks.add_argument("--resolve", type=int, metavar="TASK_ID")
    tasks.add_argument("--all", action="store_true")

    replay = sub.add_parser("replay", help="process a stored provider callback again")
    replay.add_argument("event_id", type=int)

    chk = sub.add_parser(
        "check", help="check credentials and callback URLs as the providers see them"
    )
    chk.add_argument("--saleor-api-url")
    chk.add_argument("--channel")
    chk.add_argument("--provider", choices=["coinpay24", "coinpay_th"])
    pay = sub.add_parser("payouts", help="send queued refunds with iCoinPay (exactly once)")
    pay.add_argument("--limit", type=int, default=50)

    ref = sub.add_parser("refunds", help="list refunds, or act on one")
    ref.add_argument("--all", action="store_true", help="include recorded refunds")
    ref.add_argument("--retry", type=int, metavar="ID", help="queue a refused payout again")
    ref.add_argument(
        "--not-sent", action="store_true", help="with --retry: the wallet shows no payout"
    )
    ref.add_argument("--mark-sent", type=int, metavar="ID", help="coins sent by hand")
    ref.add_argument("--txid", help="with --mark-sent: the transaction id")
    ref.add_argument("--address", nargs=2, metavar=("ID", "ADDRESS"))
    ref.add_argument("--new-link", type=int, metavar="ID", help="re-issue the claim link")
    ref.add_argument("--by", default="staff", help="who acts (kept on the refund)")

    prune = sub.add_parser("prune", help="delete finished history older than --days")
    prune.add_argument("--days", type=int, help="default CRYPTOPAY_PRUNE_DAYS, else 90")
    prune.add_argument("--dry-run", action="store_true")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.json_logs:
        os.environ["CRYPTOPAY_APP_JSON_LOGS"] = "1"
    _setup()
    from django.core.management import call_command

    from . import database
    from .secrets_box import SecretKeyMissing, _box

    # configuration first: nothing is created or migrated for a run that cannot work
    try:
        _box()
    except SecretKeyMissing as exc:
        return _fail(str(exc))
    note = database.ignored_saleor_variable_note()
    if note:
        print(f"cryptopay-app: {note}", file=sys.stderr, flush=True)
    if args.command == "migrate":
        call_command("migrate", interactive=False, verbosity=1)
    elif args.command != "serve":  # serve migrates once it knows its port is free
        problem = database.not_ready()
        if problem:
            return _fail(problem)
    handler = {
        "serve": serve,
        "migrate": lambda _args: 0,
        "prune": prune,
        "configure": configure,
        "reconcile": reconcile,
        "tasks": tasks,
        "replay": replay,
        "check": check,
        "payouts": payouts,
        "refunds": refunds,
    }[args.command]
    return handler(args) or 0


def _fail(message: str) -> int:
    print(f"cryptopay-app: {message}", file=sys.stderr)
    return 2


def serve(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    from . import database
    from .serving import PortBusy, check_port, make_server

    try:
        check_port(args.host, args.port)
        call_command("migrate", interactive=False, verbosity=1)
        server = make_server(
            get_wsgi_application(), host=args.host, port=args.port, threads=args.threads
        )
    except PortBusy as exc:
        return _fail(str(exc))
    print(f"cryptopay-app: database: {database.describe()}", flush=True)
    print(f"cryptopay-app: manifest at {settings.APP_URL}/api/manifest", flush=True)
    server.print_listen("Serving on http://{}:{}")  # a log line, in UTC like the rest
    server.run()
    return 0


def configure(args: argparse.Namespace) -> int:
    from .configure import ConfigurationRefused, save_configuration

    values = {name: getattr(args, name) for name in CONFIG_FIELDS}
    try:
        # the provider's own secrets and the refund wallet's; an option for
        # another provider's secret is passed on as given (validation says so)
        wanted = SECRET_FIELDS[args.provider] + SECRET_REFUND_FIELDS
        values.update(read_secrets(args, wanted))
        values.update({n: getattr(args, n) for n in SECRET_OPTIONS if n not in wanted})
    except SecretInputError as exc:
        return _fail(str(exc))
    try:
        config, note = save_configuration(
            saleor_api_url=args.saleor_api_url,
            channel=args.channel,
            provider=args.provider,
            values={k: v for k, v in values.items() if v is not None},
            active=not args.inactive,
            check=not args.no_check,
        )
    except ConfigurationRefused as exc:
        return _fail(str(exc))
    print(f"saved: {config}")
    print(f"provider callback URL: {config.callback_url}")
    if note:
        print(note)
    return 0


def reconcile(args: argparse.Namespace) -> int:
    from .reconcile import reconcile_all

    reports = reconcile_all(
        saleor_api_url=args.saleor_api_url,
        channel=args.channel,
        provider=args.provider,
        dry_run=args.dry_run,
    )
    for line in reports:
        print(line)
    return 0


def tasks(args: argparse.Namespace) -> int:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    options = {"all": args.all}
    if args.resolve is not None:
        options["resolve"] = args.resolve
    try:
        call_command("cryptopay_tasks", **options)
    except CommandError as exc:
        return _fail(str(exc))
    return 0


def replay(args: argparse.Namespace) -> int:
    from .callbacks import replay_event

    try:
        outcome, result = replay_event(args.event_id)
    except LookupError as exc:
        return _fail(str(exc))
    print(f"callback #{args.event_id}: {outcome}: {result}")
    return 0


def check(args: argparse.Namespace) -> int:
    from ..setup_checks import Level
    from .checks import app_url_finding, check_all

    failed = 0
    missing = app_url_finding()
    if missing:
        print(missing)
        failed += 1
    results = check_all(
        saleor_api_url=args.saleor_api_url, channel=args.channel, provider=args.provider
    )
    if not results:
        print("No active channel configuration.")
    for config, findings in results:
        print(config)
        for finding in findings:
            print("  " + str(finding).replace("\n", "\n  "))
        failed += sum(1 for f in findings if f.level is Level.ERROR)
    if failed:
        return _fail(f"{failed} problem(s) will stop payments or callbacks.")
    return 0


def prune(args: argparse.Namespace) -> int:
    """The core's ``cryptopay_prune``: the same rules as the plugin's."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from .models import Heartbeat

    options = {"dry_run": args.dry_run}
    if args.days is not None:
        options["days"] = args.days
    try:
        call_command("cryptopay_prune", **options)
    except CommandError as exc:
        return _fail(str(exc))
    if not args.dry_run:
        Heartbeat.beat("prune")
    return 0


def payouts(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    from .models import Heartbeat

    call_command("cryptopay_payouts", limit=args.limit)
    Heartbeat.beat("payouts")
    return 0


def refunds(args: argparse.Namespace) -> int:
    """The core's ``cryptopay_refunds`` with the App edition (its settings name it)."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    options = {"all": args.all, "not_sent": args.not_sent, "by": args.by, "txid": args.txid}
    for name in ("retry", "mark_sent", "address", "new_link"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    try:
        call_command("cryptopay_refunds", **options)
    except CommandError as exc:
        return _fail(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
