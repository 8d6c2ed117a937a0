"""Settings for the test suite: the project's settings plus test-only speed-ups.

DATABASE_URL and REDIS_URL are honoured, so the same suite runs on SQLite with
in-process tasks and on PostgreSQL with Redis (see the Makefile's ``test`` target).
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")

from kb.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}  # noqa: F405
STORAGES = {  # no manifest needed in tests
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# No background insights snapshots unless a test asks (tests/insights/test_snapshots.py
# turns them on): otherwise every save in the Redis run would queue a refresh.
INSIGHTS_SNAPSHOT_SECONDS = 0
