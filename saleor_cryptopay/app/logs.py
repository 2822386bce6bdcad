"""The App's log lines: always in UTC, optionally one JSON object per line,
each carrying the id of the request (or provider callback) it belongs to."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

REQUEST_ID_HEADER = "X-Request-Id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "cryptopay_log_context", default=None
)


def bind(**fields: str) -> None:
    """Add fields (e.g. ``callback_id``) to every line logged for the current request."""
    _context.set({**(_context.get() or {}), **{k: str(v) for k, v in fields.items()}})


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get() or {}
        record.request_id = context.get("request_id", "-")
        record.context = context
        return True


class UtcFormatter(logging.Formatter):
    """Plain lines stamped in UTC, whatever the host's time zone."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s [%(request_id)s] %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S",
        )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "context", {}),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def logging_config(*, json_lines: bool, level: str) -> dict[str, Any]:
    """Django's LOGGING for the App (also used by its Celery worker)."""
    formatter = "json" if json_lines else "utc"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"utc": {"()": UtcFormatter}, "json": {"()": JsonFormatter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
    }


def request_id_middleware(get_response: Callable) -> Callable:
    """Give each request an id (the proxy's ``X-Request-Id`` when it is a
    plain token), log lines with it, and send it back in the answer."""

    def middleware(request):
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _SAFE_ID.match(offered) else uuid.uuid4().hex
        # not reset afterwards: Django logs the response ("Not Found: …") after
        # the middleware returns, and the thread's next request replaces it
        _context.set({"request_id": request_id})
        response = get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    return middleware
