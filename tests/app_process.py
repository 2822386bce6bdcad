"""``cryptopay-app serve`` as a real process, the one way every test starts
it (tests/app/test_cli.py, tests/scale, the App tests in tests/saleor,
tests/app/live_saleor_e2e.py): a free port, the App's own environment, a log
file in the working directory, a bounded wait for its first answer, ``cli()``
for the App's other commands, and a clean stop.

Not a test module and not a conftest: it imports nothing of Saleor's and
runs under any Python that has this tree's dependencies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Optional

import requests

# a Fernet key for the tests' App processes (never a deployment's)
KEY = "3q2-7xHcWZ0ubdMlJdC1wWIbAn3ct6Zs1y0B5mF5o8s="
CLI = "saleor_cryptopay.app.cli"
# this source tree, whichever Python runs the App and whatever its working directory
TREE = str(Path(__file__).resolve().parent.parent)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(
    predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition", step: float = 0.2
) -> Any:
    """``predicate()``'s first true value, polled until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{what} not reached within {timeout:.0f} s")


def answers(url: str, timeout: float = 10.0) -> bool:
    """``url`` answers 200. Each try waits up to ``timeout`` for the answer: a
    loaded machine answers the first request of a fresh process slowly."""
    try:
        return requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:  # not listening yet, or too slow this time
        return False


class AppProcess:
    """One ``cryptopay-app serve`` on loopback, in ``workdir``.

    The environment is the caller's minus what belongs to another project
    (``DATABASE_URL``, ``DJANGO_SETTINGS_MODULE``: a Saleor's) and minus
    ``CRYPTOPAY_APP_DATABASE_URL`` (the App then keeps its SQLite file in
    ``workdir``), plus the App's URL, a Fernet key, ``ALLOW_LOCAL_SALEOR``
    (Saleor, fake or real, is served on loopback) and ``PYTHONPATH`` set to
    this tree. ``database_url`` and ``env`` add to it; ``new_session`` starts
    the App in a process group of its own, stopped as a group.
    """

    def __init__(
        self,
        workdir: Path | str,
        *,
        python: str = sys.executable,
        database_url: Optional[str] = None,
        env: Optional[dict[str, str]] = None,
        log_name: str = "app.log",
        new_session: bool = False,
    ) -> None:
        self.workdir = Path(workdir)
        self.python = python
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        drop = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CRYPTOPAY_APP_DATABASE_URL")
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env.update(
            APP_URL=self.url,
            CRYPTOPAY_APP_SECRET_KEY=KEY,
            ALLOW_LOCAL_SALEOR="1",
            PYTHONPATH=TREE,
        )
        if database_url:
            self.env["CRYPTOPAY_APP_DATABASE_URL"] = database_url
        self.env.update(env or {})
        self.log_path = self.workdir / log_name
        self.new_session = new_session
        self.proc: Optional[subprocess.Popen] = None
        self._log: Any = None

    def start(self, timeout: float = 120.0, path: str = "/api/manifest") -> AppProcess:
        """Serve, and return once ``path`` answers 200 (or fail with the log)."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed by stop)
        self.proc = subprocess.Popen(
            [self.python, "-m", CLI, "serve", "--port", str(self.port)],
            cwd=self.workdir,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=self.new_session,
        )
        wait_for(lambda: self._up(path), timeout, f"cryptopay-app serve on {self.url}")
        return self

    def _up(self, path: str) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"cryptopay-app serve exited ({self.proc.returncode}):\n{self.log_tail()}"
            )
        return answers(f"{self.url}{path}")

    def cli(
        self,
        *args: str,
        extra_env: Optional[dict[str, str]] = None,
        unset: Iterable[str] = (),
        timeout: float = 300,
    ) -> subprocess.CompletedProcess:
        """Another ``cryptopay-app`` command, in the same directory and environment."""
        unset = set(unset)
        env = {k: v for k, v in {**self.env, **(extra_env or {})}.items() if k not in unset}
        return subprocess.run(
            [self.python, "-m", CLI, *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self) -> None:
        """SIGTERM (to the group with ``new_session``), then wait; killed if it lingers."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _signal(self, proc: subprocess.Popen, sig: int) -> None:
        if self.new_session:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""
