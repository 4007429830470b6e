"""Settings, demo data and migrations: what a newcomer relies on."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import ApiKey, Membership, User, hash_api_key
from boards.management.commands.seed_demo import DEMO_API_KEY
from boards.models import Batch, BatchStatus, Image, Project

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 30 + "-a-long-random-production-secret-value-1234567890",
        "ALLOWED_HOSTS": "batchboard.example.com",
        "VAR_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "x.example.com", "VAR_DIR": str(tmp_path)}
    env.pop("SECRET_KEY", None)
    result = _manage("check", env=env)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_seed_demo_fills_every_column_and_is_idempotent(capsys, settings):
    settings.DEBUG = True  # as `make run` has it; with DEBUG off the command refuses
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "manager@demo.test" in out and DEMO_API_KEY in out
    counts = (User.objects.count(), Batch.objects.count(), Image.objects.count(), Membership.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Batch.objects.count(), Image.objects.count(), Membership.objects.count()) == counts

    parcels = Project.objects.get(workspace__slug="demo", slug="parcels")
    streets = Project.objects.get(workspace__slug="demo", slug="streets")
    assert parcels.review_mode and not streets.review_mode
    statuses = set(parcels.batches.values_list("status", flat=True))
    assert statuses == {BatchStatus.UNASSIGNED, BatchStatus.ANNOTATING, BatchStatus.REVIEW, BatchStatus.DATASET}
    assert {BatchStatus.UNASSIGNED, BatchStatus.ANNOTATING, BatchStatus.DATASET} <= set(
        streets.batches.values_list("status", flat=True)
    )
    for email in ["manager@demo.test", "reviewer@demo.test", "labeler@demo.test", "viewer@demo.test"]:
        assert User.objects.get(email=email).check_password("demo")
    assert User.objects.filter(is_superuser=True).exists()
    key = ApiKey.objects.get(key_hash=hash_api_key(DEMO_API_KEY))
    assert key.workspace.slug == "demo" and any(c.islower() for c in DEMO_API_KEY)
