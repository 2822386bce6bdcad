"""Where ``cryptopay-app configure`` reads secrets from.

An option's value is visible to every user of the machine in the process list
and stays in the shell's history, so each secret can also come from a file
(``--api-key-file``), the environment (``CRYPTOPAY_API_KEY``) or a hidden
prompt (``--prompt``). First found wins, in that order after the option.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Optional

MAX_FILE = 4096  # a key file is one short line; refuse to read a wrong, huge file
LABELS = {
    "api_key": "API key",
    "api_secret": "API secret",
    "icoinpay_api_key": "iCoinPay API key (Enter to keep or skip)",
}


class SecretInputError(ValueError):
    """A secret could not be read as asked (message names no secret)."""


def env_name(field: str) -> str:
    return "CRYPTOPAY_" + field.upper()


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def add_options(parser: argparse.ArgumentParser, fields: Iterable[str]) -> None:
    for name in fields:
        parser.add_argument(
            flag(name),
            dest=name,
            help=f"visible in the process list: prefer {flag(name)}-file, "
            f"${env_name(name)} or --prompt",
        )
        parser.add_argument(
            flag(name) + "-file", dest=name + "_file", metavar="PATH", help="read from a file"
        )
    parser.add_argument(
        "--prompt", action="store_true", help="ask for the secrets not given otherwise (hidden)"
    )


def read_secrets(
    args: argparse.Namespace,
    fields: Iterable[str],
    *,
    environ: Mapping[str, str] = os.environ,
    ask: Callable[[str], str] = getpass.getpass,
) -> dict[str, str]:
    """The secrets given for ``fields``; a field given nowhere is left out
    (its saved value stays)."""
    found = {}
    for name in fields:
        value = _given(args, name, environ)
        if value is None and args.prompt:
            value = ask(f"{LABELS.get(name, name)}: ").strip() or None
        if value is not None:
            found[name] = value
    return found


def _given(args: argparse.Namespace, name: str, environ: Mapping[str, str]) -> Optional[str]:
    value, path = getattr(args, name, None), getattr(args, name + "_file", None)
    if value is not None and path:
        raise SecretInputError(f"give {flag(name)} or {flag(name)}-file, not both")
    if path:
        return _read_file(path, name)
    if value is not None:
        return value
    return environ.get(env_name(name)) or None


def _read_file(path: str, name: str) -> str:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE + 1)
    except OSError as exc:
        raise SecretInputError(f"{flag(name)}-file: cannot read {path}: {exc.strerror}") from None
    lines = raw.decode("utf-8", errors="replace").strip().splitlines()
    if len(raw) > MAX_FILE or len(lines) != 1:
        raise SecretInputError(f"{flag(name)}-file: {path} must hold the secret on one line")
    return lines[0].strip()
