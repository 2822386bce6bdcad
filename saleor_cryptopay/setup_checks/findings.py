"""What a setup check reports: one finding per problem, each saying what to change."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    ERROR = "error"  # will not work: refuse the save, fail the command
    WARNING = "warning"  # may not work, or could not be confirmed
    OK = "ok"


@dataclass(frozen=True)
class Finding:
    level: Level
    field: str  # the configuration field (or setting) to change
    message: str  # what was seen; never a secret
    hint: str = ""  # what to change

    def __str__(self) -> str:
        text = f"{self.level.upper()} {self.field}: {self.message}"
        return f"{text}\n    → {self.hint}" if self.hint else text


def worst(findings: Iterable[Finding]) -> Level:
    levels = {f.level for f in findings}
    for level in (Level.ERROR, Level.WARNING):
        if level in levels:
            return level
    return Level.OK


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.level is Level.ERROR]


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value masked (providers may echo what they got)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
