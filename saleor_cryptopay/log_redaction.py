"""Keep live claim links out of the logs.

A claim link's token is the only credential of a refund: anyone holding a
working link can send the coins to their own address. Django logs the path
of every 4xx/5xx answer (``Bad Request: /api/claim/<token>``, the shopper's
mistyped address), and a refused address leaves the link working, so both
editions' request loggers get this filter.
"""

from __future__ import annotations

import logging
import re

CLAIM_LINK = re.compile(r"(/claim/)[^\s/?#\"'<>]+")
MASK = "***"
# Django's loggers that write request paths (runserver's access log too)
REQUEST_LOGGERS = ("django.request", "django.server")


def redact(text: str) -> str:
    return CLAIM_LINK.sub(r"\g<1>" + MASK, text)


class RedactClaimLinks(logging.Filter):
    """Rewrite a record that names a claim link; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a broken record: leave it to the handler to report
            return True
        if "/claim/" in text:
            record.msg, record.args = redact(text), ()
            # handlers such as AdminEmailHandler print the whole request
            record.__dict__.pop("request", None)
        return True


def install() -> None:
    """Attach the filter once to each logger that writes request paths."""
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactClaimLinks) for f in logger.filters):
            logger.addFilter(RedactClaimLinks())
