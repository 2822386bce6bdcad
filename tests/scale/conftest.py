"""The App scaled out as the README's "Running in production" runs it:
``cryptopay-app serve`` processes on PostgreSQL, a Celery worker with beat on
Redis, the provider sandbox and a fake Saleor on loopback. Saleor-free; the
PostgreSQL and Redis come from ``CRYPTOPAY_TEST_POSTGRES_URL`` and
``CRYPTOPAY_TEST_REDIS_URL`` (``.ci/run`` starts both), else these tests skip."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from saleor_cryptopay.sandbox import SandboxServer

from ..app.fake_saleor import TOKEN, FakeSaleor
from ..app_process import KEY, AppProcess

POSTGRES_ENV = "CRYPTOPAY_TEST_POSTGRES_URL"
REDIS_ENV = "CRYPTOPAY_TEST_REDIS_URL"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"no PostgreSQL for the scale-out tests: set {POSTGRES_ENV} (.ci/run does)")
    psycopg = pytest.importorskip("psycopg", reason="needs psycopg (the test extra)")
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES_ENV} is unreachable: {exc}")
    return url


@pytest.fixture
def app_database(postgres_server) -> Iterator[str]:
    """A database of the test's own, dropped afterwards."""
    import psycopg

    name = f"cryptopay_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_server)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    yield url
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_url() -> str:
    """The Redis from the environment, on a database emptied for this test."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"no Redis for the scale-out tests: set {REDIS_ENV} (.ci/run does)")
    redis = pytest.importorskip("redis", reason="needs celery[redis] (the test extra)")
    url = url.rstrip("/") + "/3"
    try:
        redis.Redis.from_url(url, socket_timeout=5).flushdb()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_ENV} is unreachable: {exc}")
    return url


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("127.0.0.1", 0, time_scale=0.0005) as server:
        yield server


@pytest.fixture
def saleor() -> Iterator[FakeSaleor]:
    fake = FakeSaleor().start()
    yield fake
    fake.stop()


class Deployment:
    """The App's processes on one database, as an operator starts them."""

    def __init__(self, tmp: Path, database: str, redis: Optional[str]) -> None:
        self.tmp, self.database, self.redis = tmp, database, redis
        self.urls: list[str] = []
        self.procs: list[tuple[subprocess.Popen, Any]] = []  # the Celery workers
        self.apps: list[AppProcess] = []  # the serve processes

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
        env.update(
            APP_URL=self.urls[0] if self.urls else "http://127.0.0.1:9",
            CRYPTOPAY_APP_SECRET_KEY=KEY,
            CRYPTOPAY_APP_DATABASE_URL=self.database,
            PYTHONPATH=os.getcwd(),  # this tree, whichever directory the App runs in
            ALLOW_LOCAL_SALEOR="1",  # the fake Saleor is served on loopback
        )
        env.pop("DJANGO_SETTINGS_MODULE", None)
        if self.redis:
            env["CELERY_BROKER_URL"] = self.redis
        env.update(extra)
        return env

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            command, cwd=self.tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs.append((proc, log))
        return proc

    def serve(self) -> str:
        """One more ``serve`` process; returns its URL once it answers."""
        n = len(self.urls)
        app = AppProcess(
            self.tmp,
            database_url=self.database,
            env={"CELERY_BROKER_URL": self.redis} if self.redis else None,
            log_name=f"serve{n}.log",
            new_session=True,
        )
        self.apps.append(app.start(path="/api/health"))
        self.urls.append(app.url)
        return app.url

    def worker(self, **schedule: str) -> subprocess.Popen:
        """A Celery worker with beat (one process: ``--pool solo``)."""
        name = f"worker{sum(1 for p, _ in self.procs if 'celery' in p.args)}"
        command = [sys.executable, "-m", "celery", "-A", "saleor_cryptopay.app.worker",
                   "worker", "--beat", "--pool", "solo", "--loglevel", "INFO",
                   "--schedule", str(self.tmp / f"{name}-beat")]  # fmt: skip
        return self._start(name, command, self.env(**schedule))

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "saleor_cryptopay.app.cli", *args],
            cwd=self.tmp, env=self.env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def health(self) -> dict:
        return requests.get(f"{self.urls[0]}/api/health", timeout=10).json()

    def query(self, sql: str, *params: Any) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.database) as conn:
            return conn.execute(sql, params).fetchall()

    def stop(self) -> None:
        for app in self.apps:
            app.stop()
        for proc, log in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
            log.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.tmp.glob("*.log"))
        )


@pytest.fixture
def deployment(tmp_path, app_database, request) -> Iterator[Deployment]:
    redis = request.getfixturevalue("redis_url") if "redis_url" in request.fixturenames else None
    app = Deployment(tmp_path, app_database, redis)
    yield app
    app.stop()
    print(app.logs())  # shown when the test fails


@pytest.fixture
def installed(deployment, saleor):
    """One serve process up, Saleor's token registered with it."""
    url = deployment.serve()
    response = requests.post(
        f"{url}/api/register",
        json={"auth_token": TOKEN},
        headers={"Saleor-Api-Url": saleor.api_url, "Saleor-Domain": "127.0.0.1"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return deployment


def configure(app: Deployment, saleor: FakeSaleor, sb: SandboxServer, provider: str, *extra):
    args = ["configure", "--saleor-api-url", saleor.api_url, "--channel", "main",
            "--provider", provider, "--no-check"]  # fmt: skip
    if provider == "coinpay24":
        args += ["--api-key", sb.coinpay24_api_key, "--api-base-url", sb.coinpay24_base]
    else:
        args += ["--api-key", sb.coinpay_th_key, "--api-secret", sb.coinpay_th_secret,
                 "--api-base-url", sb.coinpay_th_base]  # fmt: skip
    done = app.cli(*args, *extra)
    assert done.returncode == 0, done.stderr


def webhook(url: str, saleor: FakeSaleor, event: str, payload: dict) -> requests.Response:
    raw = json.dumps(payload).encode()
    slug = event.lower().replace("_", "-")
    return requests.post(
        f"{url}/api/webhooks/{slug}", data=raw, headers=saleor.headers(event, raw), timeout=60
    )
