"""Where a callback's time goes, per request, in both editions.

Off unless ``CRYPTOPAY_SERVER_TIMING`` is set (a Django setting, or the
environment variable of the same name for the App): then a callback's answer
carries a standard ``Server-Timing`` header naming each phase (inbox write,
verification, provider re-read, lock wait, Saleor's order creation or the
reports to Saleor) and the SQL this package ran outside them, so a benchmark
or an operator's proxy can see it without a profiler. Phases nest: time spent
in an inner phase is not counted again in the outer one.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, Optional

from django.conf import settings
from django.db import connection, transaction

ENV = "CRYPTOPAY_SERVER_TIMING"
OTHER = "own"  # time in no named phase: our own queries and Python


class Recorder:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.spent: dict[str, float] = {}
        self.queries: dict[str, int] = {}
        self._stack: list[list[Any]] = []  # [name, started, inner time]

    def enter(self, name: str) -> None:
        self._stack.append([name, time.perf_counter(), 0.0])

    def leave(self) -> None:
        name, started, inner = self._stack.pop()
        elapsed = time.perf_counter() - started
        self.spent[name] = self.spent.get(name, 0.0) + elapsed - inner
        if self._stack:
            self._stack[-1][2] += elapsed

    def query(self) -> None:
        name = self._stack[-1][0] if self._stack else OTHER
        self.queries[name] = self.queries.get(name, 0) + 1

    def header(self) -> str:
        total = time.perf_counter() - self.started
        named = dict(self.spent)
        named[OTHER] = max(0.0, total - sum(named.values()))
        parts = []
        for name, seconds in named.items():
            count = self.queries.get(name)
            desc = f';desc="{count} queries"' if count else ""
            parts.append(f"{name};dur={seconds * 1000:.2f}{desc}")
        parts.append(f"total;dur={total * 1000:.2f}")
        return ", ".join(parts)


_current: ContextVar[Optional[Recorder]] = ContextVar("cryptopay_timing", default=None)


def enabled() -> bool:
    return bool(getattr(settings, ENV, False) or os.environ.get(ENV, "") not in ("", "0"))


@contextlib.contextmanager
def record() -> Iterator[Optional[Recorder]]:
    """Time one callback (a no-op yielding None when timing is off)."""
    if not enabled():
        yield None
        return
    recorder = Recorder()
    token = _current.set(recorder)

    def count(execute, sql, params, many, context):
        recorder.query()
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(count):
            yield recorder
    finally:
        _current.reset(token)


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    recorder = _current.get()
    if recorder is None:
        yield
        return
    recorder.enter(name)
    try:
        yield
    finally:
        recorder.leave()


@contextlib.contextmanager
def commit(name: str = "on_commit") -> Iterator[Any]:
    """Wrap an ``atomic`` block's ``with``: the on-commit work others queued
    in it (Saleor's order webhooks and events) becomes phase ``name``.
    Yields what ``mark_commit`` takes inside the block (None when off)."""
    recorder = _current.get()
    if recorder is None:
        yield None
        return
    state = {"open": True, "entered": False}

    def start() -> None:
        if state["open"]:  # not when an outer transaction commits after us
            recorder.enter(name)
            state["entered"] = True

    try:
        yield start
    finally:
        state["open"] = False
        if state["entered"]:
            recorder.leave()


def mark_commit(start: Any) -> None:
    """Inside the atomic block: the commit phase starts at its commit (the
    first on-commit hook registered runs first)."""
    if start is not None:
        transaction.on_commit(start)


def annotate(response: Any, recorder: Optional[Recorder]) -> Any:
    if recorder is not None:
        response["Server-Timing"] = recorder.header()
    return response
