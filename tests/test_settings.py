"""Settings come from the environment and fail loudly when unsafe."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _settings(env: dict[str, str], expr: str) -> subprocess.CompletedProcess:
    ours = {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL"}
    clean = {k: v for k, v in os.environ.items() if k not in ours}
    return subprocess.run(
        [sys.executable, "-c", f"import kb.settings as s; print(repr(({expr},)))"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_secret_key_is_required_when_debug_is_off():
    result = _settings({}, "s.SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_has_a_development_key_and_defaults_are_embedded():
    result = _settings({"DEBUG": "1"}, "s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "('django.db.backends.sqlite3', True)"


def test_database_and_redis_urls_are_read():
    result = _settings(
        {
            "SECRET_KEY": "x" * 50,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/kb",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "ALLOWED_HOSTS": "kb.example.com, other.example.com",
        },
        "s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.CELERY_TASK_ALWAYS_EAGER, s.ALLOWED_HOSTS",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "('django.db.backends.postgresql', 'redis://127.0.0.1:6379/3', False, "
        "['kb.example.com', 'other.example.com'])"
    )


def test_debug_is_off_by_default():
    result = _settings({"SECRET_KEY": "x" * 50}, "s.DEBUG")
    assert result.stdout.strip() == "(False,)"


def test_bad_integer_fails_loudly():
    result = _settings({"SECRET_KEY": "x" * 50, "KB_MAX_SECTION_CHARS": "lots"}, "s.KB_MAX_SECTION_CHARS")
    assert result.returncode != 0
    assert "KB_MAX_SECTION_CHARS must be an integer" in result.stderr
