"""seed_demo publishes logins and an API key: it refuses production settings unless told otherwise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, User, Workspace

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def test_it_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError) as error:
        call_command("seed_demo")
    message = str(error.value)
    assert "DEBUG is off" in message and "admin@demo.test" in message and "--i-know-this-is-not-production" in message
    assert not User.objects.exists() and not ApiKey.objects.exists() and not Workspace.objects.exists()


def test_the_explicit_flag_lets_a_throwaway_demo_server_have_it(settings, capsys):
    settings.DEBUG = False
    call_command("seed_demo", "--i-know-this-is-not-production")
    assert User.objects.filter(email="admin@demo.test", is_superuser=True).exists()
    assert "Demo data is ready" in capsys.readouterr().out


def test_it_runs_with_debug_on_as_make_run_has_it(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    assert Workspace.objects.filter(slug="demo").exists()


def test_manage_py_with_production_settings_refuses_and_writes_nothing(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 30 + "-a-long-random-production-secret-value-1234567890",
        "ALLOWED_HOSTS": "batchboard.example.com",
        "VAR_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    run = [sys.executable, "manage.py"]
    assert subprocess.run([*run, "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True).returncode == 0
    result = subprocess.run([*run, "seed_demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "DEBUG is off" in result.stderr
    check = "from accounts.models import User; print(User.objects.count())"
    count = subprocess.run([*run, "shell", "-c", check], cwd=ROOT, env=env, capture_output=True, text=True)
    assert count.stdout.split()[-1] == "0", count.stdout + count.stderr
