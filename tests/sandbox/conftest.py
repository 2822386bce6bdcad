"""Fixtures for the sandbox tests: a running sandbox and a callback listener."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_helpers import FAST, Listener

from saleor_cryptopay.sandbox import SandboxServer


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture
def sb() -> Iterator[SandboxServer]:
    with SandboxServer("127.0.0.1", 0, time_scale=FAST) as server:
        yield server
