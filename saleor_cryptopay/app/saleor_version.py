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
