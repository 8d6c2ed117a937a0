"""One structured log line per request, with a request id on every line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pythonjsonlogger.json import JsonFormatter

from operations.requestlog import RequestContextFilter, _task_finished, _task_started

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "kb.request"]


def test_each_request_logs_method_path_status_duration_user_and_id(web, author, caplog):
    caplog.set_level(logging.INFO, logger="kb.request")
    response = web.get("/postmortems/?q=secret+words")
    assert response.status_code == 200
    (record,) = _request_records(caplog)
    assert record.levelno == logging.INFO
    assert record.method == "GET"
    assert record.path == "/postmortems/"  # never the query string: searches stay private
    assert record.route == "postmortems/"
    assert record.status == 200
    assert record.user_id == author.pk
    assert 0 <= record.duration_ms < 60_000
    assert record.client_ip == "127.0.0.1"
    assert record.request_id == response["X-Request-ID"]
    assert len(record.request_id) == 32


def test_anonymous_requests_log_no_user_and_errors_log_as_error(client, caplog):
    caplog.set_level(logging.INFO, logger="kb.request")
    client.get("/postmortems/")  # redirect to login
    client.get("/postmortems/PM-999999/")
    records = _request_records(caplog)
    assert [r.status for r in records] == [302, 302]
    assert all(r.user_id is None for r in records)


def test_a_proxy_request_id_is_kept_and_a_forged_one_replaced(client, caplog):
    caplog.set_level(logging.INFO, logger="kb.request")
    kept = client.get("/livez", HTTP_X_REQUEST_ID="edge-1234abcd")
    forged = client.get("/livez", HTTP_X_REQUEST_ID='x" injected\nfake line')
    assert kept["X-Request-ID"] == "edge-1234abcd"
    assert forged["X-Request-ID"] != 'x" injected\nfake line'
    assert len(forged["X-Request-ID"]) == 32


def test_logging_does_not_load_the_user_or_add_queries(client, author, django_assert_num_queries):
    client.force_login(author)
    # /livez never touches the session: the log line must not either.
    with django_assert_num_queries(0):
        assert client.get("/livez").status_code == 200


def test_probe_lines_are_debug_so_they_do_not_flood_the_log(client, caplog):
    caplog.set_level(logging.DEBUG, logger="kb.request")
    client.get("/livez")
    (record,) = _request_records(caplog)
    assert record.levelno == logging.DEBUG


def test_lines_logged_inside_a_request_carry_its_id(author):
    from django.test import Client

    seen = []

    class Spy(logging.Handler):
        def emit(self, record):
            seen.append(record)

    spy = Spy()
    spy.addFilter(RequestContextFilter())
    logger = logging.getLogger("django.security.csrf")  # logs a refused POST, mid-request
    logger.addHandler(spy)
    try:
        response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "alice"})
    finally:
        logger.removeHandler(spy)
    assert response.status_code == 403
    assert seen and seen[-1].request_id == response["X-Request-ID"]
    assert seen[-1].task_id == "-"


def test_celery_tasks_log_their_task_id():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    _task_started(task_id="task-42")
    try:
        RequestContextFilter().filter(record)
    finally:
        _task_finished()
    assert record.task_id == "task-42"
    assert record.request_id == "-"


def test_json_formatter_writes_one_parseable_object_per_record(settings, caplog):
    caplog.set_level(logging.INFO, logger="kb.request")
    config = dict(settings.LOGGING["formatters"]["json"])
    factory = config.pop("()")
    assert factory == "pythonjsonlogger.json.JsonFormatter"
    formatter = JsonFormatter(**config)
    record = logging.LogRecord("kb.request", logging.INFO, __file__, 1, "GET %s %s", ("/x", 200), None)
    record.request_id, record.user_id, record.status, record.duration_ms = "abc", 7, 200, 1.5
    line = formatter.format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "GET /x 200"
    assert data["level"] == "INFO" and data["logger"] == "kb.request"
    assert data["request_id"] == "abc" and data["user_id"] == 7 and data["duration_ms"] == 1.5
    assert "time" in data


def _logging_config(env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "DEBUG", "SECRET_KEY"))}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, kb.settings as s; print(json.dumps({'fmt': s.LOGGING['handlers']['console']"
            "['formatter'], 'req': s.LOGGING['loggers']['kb.request']['level'], "
            "'hijack': s.CELERY_WORKER_HIJACK_ROOT_LOGGER}))",
        ],
        cwd=ROOT,
        env={**clean, "SECRET_KEY": "x" * 50, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_plain_text_by_default_and_json_with_log_format_json():
    assert _logging_config({}) == {"fmt": "plain", "req": "WARNING", "hijack": True}
    assert _logging_config({"LOG_FORMAT": "json"}) == {"fmt": "json", "req": "INFO", "hijack": False}
    assert _logging_config({"LOG_REQUESTS": "1"})["req"] == "INFO"
