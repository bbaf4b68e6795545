"""Production settings refuse unsafe configurations at start-up (real subprocesses)."""

import subprocess
import sys

import pytest

from tests.servers import ROOT, base_env

GOOD_KEY = "k" * 64


def start_production(**env: str) -> subprocess.CompletedProcess[str]:
    full = base_env(DJANGO_SETTINGS_MODULE="portal.settings.production", **env)
    full.setdefault("ATRIUM_ENCRYPTION_SALT", "a-salt")
    for name in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "DEBUG"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "sqlite:///x", "ALLOWED_HOSTS": "a.example"}, "Production needs SECRET_KEY"),
        (
            {
                "SECRET_KEY": "django-insecure-atrium-embedded-mode-only-do-not-use-in-production",
                "DATABASE_URL": "sqlite:///x",
                "ALLOWED_HOSTS": "a.example",
            },
            "Production needs SECRET_KEY",
        ),
        ({"SECRET_KEY": "short", "DATABASE_URL": "sqlite:///x", "ALLOWED_HOSTS": "a.example"}, "at least 50"),
        ({"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "a.example"}, "needs DATABASE_URL"),
        ({"SECRET_KEY": GOOD_KEY, "DATABASE_URL": "sqlite:///x"}, "needs ALLOWED_HOSTS"),
        ({"SECRET_KEY": GOOD_KEY, "DATABASE_URL": "sqlite:///x", "ALLOWED_HOSTS": "*"}, "not '*'"),
        ({"SECRET_KEY": GOOD_KEY, "DATABASE_URL": "sqlite:///x", "ALLOWED_HOSTS": "a.example,*"}, "not '*'"),
        (
            {"SECRET_KEY": GOOD_KEY, "DATABASE_URL": "sqlite:///x", "ALLOWED_HOSTS": "a.example", "DEBUG": "true"},
            "DEBUG must be off",
        ),
    ],
)
def test_production_refuses_to_start(env, message):
    result = start_production(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_a_proper_configuration(tmp_path):
    result = start_production(
        SECRET_KEY=GOOD_KEY, DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", ALLOWED_HOSTS="atrium.example.org"
    )
    assert result.returncode == 0, result.stderr


def test_unknown_channel_layer_or_task_backend_is_a_clear_error():
    env = base_env(CHANNEL_LAYER="carrier-pigeon")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "CHANNEL_LAYER must be 'redis' or 'memory'" in result.stderr
    env = base_env(TASK_BACKEND="cron")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert "TASK_BACKEND must be one of database, immediate" in result.stderr
