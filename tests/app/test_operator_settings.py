"""``cryptopay-app`` started as an operator would, in the wrong places and
with the wrong environment: each finding of issue 18 with the process that
shows it (real processes, real files, a real port)."""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import requests
from waitress.task import ThreadedTaskDispatcher

from saleor_cryptopay.app.serving import install_queue_advice

from ..app_process import KEY, answers, free_port, wait_for

APP_FILE = "cryptopay-app.sqlite3"


def app_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "CRYPTOPAY_APP_SECRET_KEY": KEY, "APP_URL": "https://pay.example"}
    for name in ("DATABASE_URL", "CRYPTOPAY_APP_DATABASE_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(extra)
    return env


def run(cwd, *args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "saleor_cryptopay.app.cli", *args],
        cwd=cwd,
        env=env or app_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_saleors_database_url_is_never_read(tmp_path):
    saleor_db = tmp_path / "saleor.sqlite3"
    env = app_env(DATABASE_URL=f"sqlite:///{saleor_db}")
    done = run(tmp_path, "migrate", env=env)
    assert done.returncode == 0, done.stderr
    assert not saleor_db.exists()  # nothing of the App's went into Saleor's database
    assert (tmp_path / APP_FILE).exists()
    # said at start, naming the database the App does use
    assert "DATABASE_URL is set but the App does not read it" in done.stderr
    assert str(tmp_path / APP_FILE) in done.stderr and "CRYPTOPAY_APP_DATABASE_URL" in done.stderr

    own = tmp_path / "own.sqlite3"
    env["CRYPTOPAY_APP_DATABASE_URL"] = f"sqlite:///{own}"
    done = run(tmp_path, "migrate", env=env)
    assert done.returncode == 0 and own.exists() and not saleor_db.exists()
    assert "does not read it" not in done.stderr


def test_serve_without_a_secret_key_touches_nothing(tmp_path):
    done = run(
        tmp_path, "serve", "--port", str(free_port()), env=app_env(CRYPTOPAY_APP_SECRET_KEY="")
    )
    assert done.returncode == 2 and "Fernet.generate_key" in done.stderr
    assert list(tmp_path.iterdir()) == []  # no database created, nothing migrated


def test_reading_commands_refuse_a_database_that_is_missing_or_empty(tmp_path):
    for command in (["tasks"], ["reconcile"], ["refunds"], ["check"], ["prune"]):
        done = run(tmp_path, *command)
        assert done.returncode == 2, (command, done.stdout)
        assert f"{tmp_path / APP_FILE} does not exist" in done.stderr, done.stderr
        assert "Nothing needs attention" not in done.stdout
    assert not (tmp_path / APP_FILE).exists()  # and none was created

    sqlite3.connect(tmp_path / APP_FILE).close()  # an empty file (an older version made these)
    done = run(tmp_path, "tasks")
    assert done.returncode == 2 and "is not an App database" in done.stderr

    assert run(tmp_path, "migrate").returncode == 0
    done = run(tmp_path, "tasks")
    assert done.returncode == 0 and "Nothing needs attention." in done.stdout
    # prune: the core's rules (tests/core/test_prune.py) behind a thin command
    done = run(tmp_path, "prune", "--dry-run")
    assert done.returncode == 0 and "would be pruned before" in done.stdout
    assert "delivered reports" in done.stdout
    done = run(tmp_path, "prune", "--days", "0")
    assert done.returncode == 2 and "at least one day" in done.stderr


def test_a_busy_port_is_one_clear_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run(tmp_path, "serve", "--port", str(port))
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_full_request_queue_says_what_to_change(caplog):
    """Waitress's own dispatcher, with every thread busy, warns through the advice."""
    advice = install_queue_advice(threads=4)
    try:
        with caplog.at_level(logging.WARNING, logger="waitress.queue"):
            ThreadedTaskDispatcher().add_task(object())  # no idle thread: queued
    finally:
        logging.getLogger("waitress.queue").removeFilter(advice)
    [record] = [r for r in caplog.records if r.name == "waitress.queue"]
    assert "Task queue depth is 1" in record.getMessage()
    assert "all 4 threads (--threads) are busy" in record.getMessage()


@pytest.fixture
def serving(tmp_path):
    """``serve`` with its output captured, in a host time zone far from UTC."""
    procs = []

    def start(*options: str):
        port = free_port()
        env = app_env(APP_URL=f"http://127.0.0.1:{port}", TZ="Asia/Tokyo")
        proc = subprocess.Popen(
            [sys.executable, "-m", "saleor_cryptopay.app.cli", *options, "serve"]
            + ["--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: answers(f"{url}/api/manifest"), 120, "serve")
        return proc, url

    yield start
    for proc in procs:
        proc.terminate()
        proc.communicate(timeout=30)


def _stop(proc) -> str:
    proc.terminate()
    return proc.communicate(timeout=30)[1]


def test_the_app_runs_in_utc_whatever_the_host_zone(tmp_path):
    """Django sets the process time zone from TIME_ZONE (America/Chicago when
    unset): every library's local time, Celery's log lines included, is UTC."""
    code = (
        "import django, time; django.setup(); "
        "from django.utils import timezone; "
        "print(time.strftime('%Z'), timezone.get_current_timezone_name())"
    )
    env = app_env(TZ="Asia/Tokyo", DJANGO_SETTINGS_MODULE="saleor_cryptopay.app.settings")
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.stdout.split() == ["UTC", "UTC"], done.stderr


def test_log_lines_are_stamped_in_utc(serving):
    proc, _ = serving()
    [line] = [x for x in _stop(proc).splitlines() if "Serving on" in x]
    stamp = datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    # Tokyo time would be 9 hours ahead, Chicago's (Django's default) 6 behind
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 3600, line


def test_json_logs_carry_the_request_id(serving):
    proc, url = serving("--json-logs")
    answer = requests.post(
        f"{url}/api/callbacks/no-such-key",
        data={"a": "1"},
        headers={"X-Request-Id": "lb-42"},
        timeout=10,
    )
    assert answer.status_code == 404 and answer.headers["X-Request-Id"] == "lb-42"
    lines = [json.loads(x) for x in _stop(proc).splitlines() if x.startswith("{")]
    [missing] = [x for x in lines if "Not Found" in x["message"]]
    assert missing["request_id"] == "lb-42" and missing["level"] == "WARNING"
    assert missing["time"].endswith("+00:00")
    assert any("Serving on" in x["message"] for x in lines)
