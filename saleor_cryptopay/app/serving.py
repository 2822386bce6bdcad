"""``cryptopay-app serve`` with waitress: a busy port is one clear line, and
a full request queue says what to change."""

from __future__ import annotations

import logging
from typing import Any

QUEUE_LOGGER = "waitress.queue"


class PortBusy(RuntimeError):
    pass


class QueueAdvice(logging.Filter):
    """Waitress warns "Task queue depth is N" when every thread is busy;
    say what that means and what to change."""

    def __init__(self, threads: int) -> None:
        super().__init__()
        self.threads = threads

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Task queue depth"):
            record.msg = (
                f"{record.msg}: all {self.threads} threads (--threads) are busy and requests "
                "wait. Raise --threads, or run more `serve` processes on PostgreSQL behind the "
                "proxy (README: Running in production)."
            )
        return True


def install_queue_advice(threads: int) -> QueueAdvice:
    advice = QueueAdvice(threads)
    logging.getLogger(QUEUE_LOGGER).addFilter(advice)
    return advice


def check_port(host: str, port: int) -> None:
    """Fail early on a port in use, before migrating; the port itself is taken
    only once the App can answer (a probe meanwhile is refused, not left hanging)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds
            probe.bind(infos[0][4])
    except OSError as exc:
        raise PortBusy(_busy(host, port, exc)) from None


def _busy(host: str, port: int, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return (
        f"cannot listen on {host}:{port}: {reason}. Is another `serve` (or another "
        "program) using that port? Stop it or choose another --port."
    )


def make_server(application: Any, *, host: str, port: int, threads: int) -> Any:
    import waitress.server

    try:
        server = waitress.server.create_server(application, host=host, port=port, threads=threads)
    except OSError as exc:
        raise PortBusy(_busy(host, port, exc)) from None
    install_queue_advice(threads)
    return server
