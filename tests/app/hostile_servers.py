"""Loopback servers that misbehave the way a posted Saleor-Api-Url may:
one that drips its answer a byte at a time; a port nothing listens on."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from typing import Any, Optional


class DrippingServer:
    """Accepts connections, reads the request, then sends an endless response
    header one byte every ``interval`` seconds until stopped."""

    def __init__(self, interval: float = 0.5, tls: Optional[ssl.SSLContext] = None) -> None:
        self.interval = interval
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.open_connections = 0
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}/graphql/"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with self.lock:
            self.connections += 1
            self.open_connections += 1
        try:
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Padding: ")
            while not self.stopped.wait(self.interval):
                conn.sendall(b"a")
        except OSError:
            pass  # the App gave up and closed the connection
        finally:
            conn.close()
            with self.lock:
                self.open_connections -= 1

    def wait_for_open(self, count: int, timeout: float = 15.0) -> bool:
        """True once ``count`` connections are open at the same time."""
        return self._wait(lambda: self.open_connections >= count, timeout)

    def wait_all_closed(self, timeout: float = 15.0) -> bool:
        return self._wait(lambda: self.open_connections == 0, timeout)

    def _wait(self, condition: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if condition():
                    return True
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()

    def __enter__(self) -> DrippingServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
