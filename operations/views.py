"""Health endpoints for load balancers, orchestrators and monitors.

- ``/livez``: the process answers (no database, no Redis). A failing liveness
  probe means "restart me".
- ``/healthz``: the process can serve: ``SELECT 1`` on the database and
  ``PING`` to Redis (1 s timeout, only when ``REDIS_URL`` is set). 200 when all
  pass, 503 naming the failed check otherwise. A failing readiness probe means
  "send no traffic", not "restart".

Both are anonymous, GET/HEAD only, never cached, exempt from the HTTPS redirect
(``SECURE_REDIRECT_EXEMPT``) so a probe on the private port works, and say
nothing about configuration.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from operations.health import readiness


@never_cache
@require_safe
def livez(request: HttpRequest) -> JsonResponse:
    """200 ``{"status": "ok"}`` while the process runs; touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 ``{"status": "ok", "checks": {...}}``, or 503 with ``"status": "error"``
    and the failed check marked ``"error"`` in ``checks``."""
    report = readiness()
    body = {
        "status": "ok" if report.ok else "error",
        "checks": report.checks,
        "duration_ms": report.duration_ms,
    }
    return JsonResponse(body, status=200 if report.ok else 503)
