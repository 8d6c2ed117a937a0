"""Celery application for background work.

With ``REDIS_URL`` set, tasks go to Redis and a real worker runs them
(``celery -A kb worker``). Without it, ``kb.settings`` turns on eager mode so the
embedded default runs tasks in-process and needs no server. Configuration is read
from Django settings under the ``CELERY_`` namespace (cookiecutter-django's wiring).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb.settings")

app = Celery("kb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
