"""Benchmark-side helpers for the sandbox.

``nodelay()``: the sandbox's HTTP handler writes the response headers and the
body in two ``send`` calls on a socket without ``TCP_NODELAY``. Nagle holds
the body until the client ACKs the headers, and the client delays that ACK:
every sandbox answer costs ~40 ms of idle waiting on Linux loopback (measured:
p50 46 ms per call as-is, 1.2 ms with TCP_NODELAY). A real provider's edge
does not behave like that, so by default the benchmarks set TCP_NODELAY on
the sandbox's accepted sockets *in the benchmark process only* (the package
code is not changed). Set ``BENCH_SANDBOX_AS_IS=1`` to measure without it.
"""

from __future__ import annotations

import os
import socket

from saleor_cryptopay.sandbox import server as _server

_patched = False


def as_is() -> bool:
    return os.environ.get("BENCH_SANDBOX_AS_IS", "") not in ("", "0")


def describe() -> str:
    if as_is():
        return "sandbox as shipped (no TCP_NODELAY: ~40 ms Nagle/delayed-ACK stall per call)"
    return "sandbox sockets get TCP_NODELAY from the benchmark (BENCH_SANDBOX_AS_IS=1: as shipped)"


def nodelay() -> str:
    """Apply the TCP_NODELAY patch unless BENCH_SANDBOX_AS_IS is set; returns
    a line describing what was done, for the benchmark's output."""
    global _patched
    if as_is():
        return describe()
    if not _patched:
        original = _server._Handler.setup

        def setup(self):  # type: ignore[no-untyped-def]
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            original(self)

        _server._Handler.setup = setup  # type: ignore[method-assign]
        _patched = True
    return describe()


if __name__ == "__main__":  # the child-process sandbox of client_overhead.py
    import sys

    from saleor_cryptopay.sandbox.cli import main

    print(nodelay(), file=sys.stderr)
    sys.exit(main(sys.argv[1:]))
