"""/livez and /healthz: anonymous, no CSRF, 503 naming the failed check, no secrets."""

from __future__ import annotations

import os
import socket
import time

import pytest
from django.db import connections
from django.db.utils import OperationalError

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_livez_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_checks_the_database_and_skips_redis_when_unset(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "redis": "skipped"}
    assert body["duration_ms"] >= 0


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set: no Redis to ping")
def test_healthz_pings_a_live_redis(client, settings):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_healthz_is_503_within_seconds_when_redis_is_down_and_names_it(client, settings, caplog):
    port = _closed_port()
    settings.REDIS_URL = f"redis://:hunter2-secret@127.0.0.1:{port}/0"
    started = time.monotonic()
    response = client.get("/healthz")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"] == {"database": "ok", "redis": "error"}
    assert elapsed < 3
    text = response.content.decode()
    assert "hunter2" not in text and str(port) not in text and "Traceback" not in text
    assert any("Redis unreachable" in r.getMessage() for r in caplog.records)


def test_healthz_is_503_within_seconds_when_redis_accepts_but_never_answers(client, settings):
    # A hung Redis (accepts TCP, never replies): the 1 s socket timeout bounds the probe.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        settings.REDIS_URL = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "error"
    assert elapsed < 3


def test_healthz_is_503_when_the_database_fails(client, settings, monkeypatch):
    settings.REDIS_URL = ""
    connection = connections["default"]

    def broken_cursor(*args, **kwargs):
        raise OperationalError("could not connect to server: password=db-secret host=db.internal")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "error", "redis": "skipped"}
    assert "db-secret" not in response.content.decode()
    assert "db.internal" not in response.content.decode()


@pytest.mark.parametrize("path", ["/livez", "/healthz"])
def test_probes_refuse_writes_and_need_neither_login_nor_csrf(path):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.get(path).status_code == 200
    assert strict.head(path).status_code == 200
    # Unsafe methods never reach a probe: CSRF refuses them (403), the view would (405).
    assert strict.post(path).status_code == 403
    assert Client().post(path).status_code == 405
    assert Client().delete(path).status_code == 405


def test_probes_are_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.REDIS_URL = ""
    assert client.get("/healthz").status_code == 200
    assert client.get("/livez").status_code == 200
    page = client.get("/postmortems/")
    assert page.status_code == 301
    assert page["Location"].startswith("https://")
