"""Suite-wide: no live secret in any log line at any level (tests/log_watch.py).
A leak fails the run, with the offending lines in the summary."""

from __future__ import annotations

import pytest

from .log_watch import LeakWatch, known_secrets, watching

WATCH = LeakWatch()


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_any_log():
    for secret, kind in known_secrets().items():
        WATCH.add(secret, kind)
    with watching(WATCH):
        yield


@pytest.fixture
def sb(sandbox):
    """The directory's ``sandbox`` fixture, reset for the test, its faults
    cleared after it (tests/saleor and tests/sandbox have their own)."""
    sandbox.reset()
    yield sandbox
    sandbox.clear_faults()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if WATCH.leaks and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    if WATCH.leaks:
        terminalreporter.section("secrets in log lines", sep="=", red=True, bold=True)
        for line in WATCH.leaks:
            terminalreporter.line(line)
