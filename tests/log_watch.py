"""The whole suite's log guard: every record at DEBUG, from every logger,
checked for a live secret (claim tokens, provider API keys and secrets, the
Saleor App token, the App's Fernet keys). Records are checked as they are
emitted and only offenders are kept, so the guard stays cheap."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from saleor_cryptopay.sandbox.state import SandboxConfig

from .app.fake_saleor import TOKEN

# a claim link with its token, wherever it is logged from
CLAIM_LINK = re.compile(r"/claim/(?!\*\*\*)[^\s/?#\"'<>]{20,}")
# the provider's own side (the sandbox), and the tests' own HTTP clients and
# browser, which are the shopper opening a claim link: not the shop's logs
# and the browser the tests drive, which types what staff type into the
# Dashboard's forms (secrets included) and logs its own commands
NOT_THE_SHOP = ("saleor_cryptopay.sandbox", "selenium")
SHOPPER_SIDE = ("urllib3", "selenium")
_FORMATTER = logging.Formatter()


def known_secrets() -> dict[str, str]:
    sandbox = SandboxConfig()
    found = {key: "CoinPay24 API key" for key in sandbox.coinpay24_api_keys}
    for key, secret in sandbox.coinpay_th_credentials.items():
        found[key] = "CoinPay.in.th API key"
        found[secret] = "CoinPay.in.th API secret"
    found.update({key: "iCoinPay API key" for key in sandbox.icoinpay_api_keys})
    for key in getattr(settings, "CRYPTOPAY_APP_SECRET_KEYS", None) or []:
        found[key] = "Fernet key"
    found[TOKEN] = "Saleor app token"
    return found


class LeakWatch(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.secrets: dict[str, str] = {}
        self.leaks: list[str] = []

    def add(self, secret: str, kind: str) -> None:
        if secret:
            self.secrets[secret] = kind

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(NOT_THE_SHOP):
            return
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + _FORMATTER.formatException(record.exc_info)
        except Exception:
            return
        shopper = record.name.startswith(SHOPPER_SIDE)
        for secret, kind in list(self.secrets.items()):
            if secret in text and not (shopper and kind == "claim token"):
                self._leak(record, kind, text)
        if not shopper and CLAIM_LINK.search(text):
            self._leak(record, "claim link", text)

    def _leak(self, record: logging.LogRecord, kind: str, text: str) -> None:
        if len(self.leaks) < 50:
            self.leaks.append(f"{kind} in {record.name} {record.levelname}: {text[:300]!r}")


@contextmanager
def watching(watch: LeakWatch) -> Iterator[LeakWatch]:
    """DEBUG on the root and on every logger with a level of its own; the
    watch on the root and on loggers that do not propagate."""
    from django.core import signing

    from saleor_cryptopay.refunds.request import CLAIM_SALT

    loggers = [logging.root] + [
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    levels = {lg: lg.level for lg in loggers}
    attached = [lg for lg in loggers if lg is logging.root or not lg.propagate]
    for lg in loggers:
        if lg is logging.root or lg.level:
            lg.setLevel(logging.DEBUG)
    for lg in attached:
        lg.addHandler(watch)
    # every claim token minted (refunds.claim_token signs through this module)
    dumps = signing.dumps

    def recording_dumps(obj, *args, **kwargs):
        value = dumps(obj, *args, **kwargs)
        if kwargs.get("salt") == CLAIM_SALT:
            watch.add(value, "claim token")
        return value

    signing.dumps = recording_dumps
    try:
        yield watch
    finally:
        signing.dumps = dumps
        for lg in attached:
            lg.removeHandler(watch)
        for lg, level in levels.items():
            lg.setLevel(level)
