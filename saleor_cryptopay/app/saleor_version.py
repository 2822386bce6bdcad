"""Which Saleor the App talks to: features are chosen by its version
(``Saleor-Schema-Version`` on the manifest fetch and on webhooks, or the
handshake's ``saleorVersion``), never guessed from errors."""

from __future__ import annotations

import re
from typing import Optional

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def parse(version: Optional[str]) -> Optional[tuple[int, int, int]]:
    match = _VERSION.match(version or "")
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def at_least(version: Optional[str], minimum: tuple[int, ...]) -> bool:
    """False when the version is unknown: the older, safer behaviour."""
    parsed = parse(version)
    return parsed is not None and parsed[: len(minimum)] >= minimum


# what each feature needs (the schema says "Added in Saleor 3.22"; the App
# Problems API works from 3.22.36 on)
PAYMENT_METHOD_DETAILS = (3, 22)
APP_PROBLEMS = (3, 22, 36)


def remember(installation, version: Optional[str]) -> None:
    """Keep the newest version Saleor told us (webhook payloads carry the full
    one; the registration header only major.minor)."""
    version = str(version or "").strip()[:32]
    if not version or parse(version) is None or version == installation.saleor_version:
        return
    if len(version) < len(installation.saleor_version) and installation.saleor_version.startswith(
        version
    ):
        return  # "3.22" says less than the "3.22.40" we know
    type(installation).objects.filter(pk=installation.pk).update(saleor_version=version)
    installation.saleor_version = version
