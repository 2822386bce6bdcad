"""Tiny real HTTP(S) servers on loopback, each answering with one function."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional


@dataclass
class Seen:
    """What a server received, for assertions."""

    requests: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[str, dict[str, str], bytes], Answer]  # path, headers, body


@contextmanager
def serve(
    respond: Responder, *, tls: Optional[ssl.SSLContext] = None, host: str = "127.0.0.1"
) -> Iterator[tuple[str, Seen]]:
    """Yields the server's root URL (http or https) and what it has seen."""
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen.requests.append({"path": self.path, "headers": headers, "body": body})
            answer = respond(self.path, headers, body)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # clients that time out on purpose break the pipe

    httpd = Server((host, 0), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.daemon = True
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://{host}:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def json_answer(text: str, status: int = 200) -> Answer:
    return Answer(status, text.encode(), {"Content-Type": "application/json"})


def html_answer(status: int = 200) -> Answer:
    return Answer(status, b"<html><body>Welcome</body></html>", {"Content-Type": "text/html"})
