"""The plugin's periodic tasks on Saleor's own Celery app, in a fresh process
as a worker or beat loads them: autodiscovery imports ``saleor_cryptopay.tasks``,
which adds the entries to the beat schedule; beat's scheduler starts with them;
``CRYPTOPAY_SCHEDULE`` changes an interval or turns one off."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("saleor", reason="Saleor is not installed: run in a Saleor 3.20 environment")

LOAD = """
import json
import django
django.setup()
from celery.beat import Scheduler
from saleor.celeryconf import app
app.loader.import_default_modules()  # what a worker and beat do first (autodiscovery)
beat = Scheduler(app=app, lazy=False)  # beat's in-memory scheduler, from app.conf
print(json.dumps({
    "tasks": sorted(n for n in app.tasks if n.startswith("saleor_cryptopay.")),
    "conf": {k: [v["task"], v["schedule"].total_seconds()]
             for k, v in app.conf.beat_schedule.items() if k.startswith("cryptopay-")},
    "beat": sorted(k for k in beat.schedule if k.startswith("cryptopay-")),
    "saleor": "delete-expired-checkouts" in beat.schedule,
}))
"""


def load(tmp_path, setting: str = "") -> dict:
    (tmp_path / "schedule_settings.py").write_text(f"from tests.settings import *\n{setting}\n")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "schedule_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()]),
    }
    result = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True,
                            text=True, timeout=300, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_saleor_celery_app_schedules_the_plugin_tasks(tmp_path):
    loaded = load(tmp_path)
    assert {"saleor_cryptopay.reconcile", "saleor_cryptopay.payouts"} <= set(loaded["tasks"])
    assert loaded["conf"]["cryptopay-reconcile"] == ["saleor_cryptopay.reconcile", 300.0]
    assert loaded["conf"]["cryptopay-payouts"] == ["saleor_cryptopay.payouts", 60.0]
    # prune is scheduled exactly when the task exists
    has_prune = "saleor_cryptopay.prune" in loaded["tasks"]
    assert ("cryptopay-prune" in loaded["conf"]) == has_prune
    assert set(loaded["beat"]) == set(loaded["conf"]) and loaded["saleor"]


def test_setting_changes_an_interval_and_turns_one_off(tmp_path):
    loaded = load(tmp_path, 'CRYPTOPAY_SCHEDULE = {"reconcile": 120, "payouts": None}')
    assert loaded["conf"]["cryptopay-reconcile"] == ["saleor_cryptopay.reconcile", 120.0]
    assert "cryptopay-payouts" not in loaded["conf"] and "cryptopay-payouts" not in loaded["beat"]
    assert load(tmp_path, "CRYPTOPAY_SCHEDULE = False")["beat"] == []
