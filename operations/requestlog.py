"""One structured log line per request, and a request id on every log line.

``RequestLogMiddleware`` gives each request an id (the proxy's ``X-Request-ID``
when it looks like one, else a new one), returns it in the ``X-Request-ID``
response header, and logs one record on the ``kb.request`` logger when the
response is ready::

    {"time": "...", "level": "INFO", "logger": "kb.request", "message": "GET /postmortems/ 200",
     "request_id": "4f0c...", "user_id": 12, "method": "GET", "path": "/postmortems/",
     "route": "postmortems/", "status": 200, "duration_ms": 18.4, "client_ip": "203.0.113.9"}

``RequestContextFilter`` (on the log handler) stamps ``request_id`` and
``task_id`` on every record, so what a view or a Celery task logs can be
joined to the request or task it came from. ``settings.LOGGING`` picks the
format: JSON lines (python-json-logger) with ``LOG_FORMAT=json``, plain text
otherwise. The field names follow the Twelve-Factor "logs as event streams"
habit: one event per line on stderr, routed by the process manager.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from operations.network import client_ip

logger = logging.getLogger("kb.request")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("kb_request_id", default="")
_task_id: contextvars.ContextVar[str] = contextvars.ContextVar("kb_task_id", default="")

# A proxy-made id is trusted only when it cannot smuggle anything into a log line.
_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Liveness and readiness probes run every few seconds; log them only at DEBUG.
PROBE_PATHS = frozenset({"/livez", "/healthz"})


def current_request_id() -> str:
    """The id of the request being handled in this thread or task, or ""."""
    return _request_id.get()


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``task_id`` ("" outside a request or task) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = _request_id.get() or "-"
        if not getattr(record, "task_id", ""):
            record.task_id = _task_id.get() or "-"
        return True


def _user_id(request: HttpRequest) -> int | None:
    """The signed-in user's id, read only if something already loaded the user.

    Loading it here would add a session and a user query to every request (and
    to the query counts the tests pin), and fail when the database is down.
    """
    user = request.__dict__.get("user")
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    if getattr(user, "is_authenticated", False):
        return user.pk
    return None


class RequestLogMiddleware:
    """Logs method, path, status, duration, user id and request id of each request.

    Put it first in ``MIDDLEWARE`` so the duration covers the whole stack and
    redirects made by ``SecurityMiddleware`` are logged too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        except Exception:
            self._log(request, 500, started, level=logging.ERROR)
            raise
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        self._log(request, response.status_code, started)
        return response

    def _log(self, request: HttpRequest, status: int, started: float, level: int | None = None) -> None:
        if level is None:
            if status >= 500:
                level = logging.ERROR
            elif request.path in PROBE_PATHS and status < 400:
                level = logging.DEBUG
            else:
                level = logging.INFO
        match = getattr(request, "resolver_match", None)
        logger.log(
            level,
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "request_id": request.request_id,
                "user_id": _user_id(request),
                "method": request.method,
                "path": request.path,
                "route": match.route if match else "",
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "client_ip": client_ip(request),
            },
        )


def connect_celery_signals() -> None:
    """Set the task-id context while a Celery task runs (worker processes only)."""
    from celery import signals

    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="operations.task_prerun")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="operations.task_postrun")


def _task_started(task_id: str = "", **_: object) -> None:
    _task_id.set(task_id or "")


def _task_finished(**_: object) -> None:
    _task_id.set("")
