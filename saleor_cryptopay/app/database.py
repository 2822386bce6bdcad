"""Which database the App uses, and whether it is ready to be read.

The App reads only ``CRYPTOPAY_APP_DATABASE_URL``: Saleor's ``DATABASE_URL``
is often set on the same host, and reading it put the App's tables into
Saleor's database. Only ``serve`` and ``migrate`` create or migrate the
database; every other command refuses one that is missing or not migrated,
rather than answering from an empty file made in the wrong directory."""

from __future__ import annotations

import os
from typing import Optional

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

SALEOR_VARIABLE = "DATABASE_URL"


def describe() -> str:
    """The database in words, without its password."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite file {db['NAME']}"
    vendor = "PostgreSQL" if "postgres" in db["ENGINE"] else db["ENGINE"].rsplit(".", 1)[-1]
    where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 'default port'}"
    return f"{vendor} database {db['NAME']!r} on {where}"


def ignored_saleor_variable_note() -> Optional[str]:
    """Said at start when Saleor's variable is set but the App's is not."""
    if os.environ.get(SALEOR_VARIABLE) and not os.environ.get(settings.DATABASE_ENV):
        return (
            f"{SALEOR_VARIABLE} is set but the App does not read it (it is Saleor's); the App "
            f"uses {describe()}. Upgrading from 0.2 with the App's database in "
            f"{SALEOR_VARIABLE}: set {settings.DATABASE_ENV} to that URL instead."
        )
    return None


def pending_migrations() -> list[str]:
    """Migrations not applied yet (raises DatabaseError when unreachable)."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _ in plan]


def not_ready() -> Optional[str]:
    """Why a reading command must not run on this database, or None."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3") and not os.path.exists(db["NAME"]):
        # checked before connecting: connecting would create the file
        return (
            f"no App database: {describe()} does not exist. Run this where `cryptopay-app "
            f"serve` runs, or set {settings.DATABASE_ENV}; `cryptopay-app migrate` creates it."
        )
    try:
        pending = pending_migrations()
    except DatabaseError as exc:
        return f"cannot open the App database ({describe()}): {str(exc).strip()}"
    if not pending:
        return None
    if len(pending) == len(_all_migrations()):
        return (
            f"{describe()} is not an App database (none of its tables exist). Run "
            f"`cryptopay-app migrate` to create them there, or set {settings.DATABASE_ENV}."
        )
    return (
        f"{describe()} has {len(pending)} unapplied migration(s) ({', '.join(pending)}): "
        "run `cryptopay-app migrate` (or restart `serve`), then try again."
    )


def _all_migrations() -> list:
    return list(MigrationExecutor(connection).loader.graph.nodes)
