"""The GitHub webhook endpoint, ``POST /webhooks/github/``.

It verifies the signature over the raw body before reading anything else,
stores the delivery and answers at once (GitHub gives up after 10 s); the
work happens in ``integrations.github.tasks.process_delivery``.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qs

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.github import services
from integrations.github.signature import signature_is_valid

logger = logging.getLogger(__name__)

_GUID = re.compile(r"[A-Za-z0-9-]{1,64}")
_EVENT = re.compile(r"[a-z_]{1,64}")
_HOOK_ID = re.compile(r"\d{0,40}")

STATUS_CODES = {"queued": 202, "ignored": 202, "pong": 200, "duplicate": 200}


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _decode(request: HttpRequest) -> dict:
    """The payload as a dict: JSON, or GitHub's form encoding (``payload=<json>``).

    Raises:
        ValueError: when the body is not a JSON object.
    """
    body = request.body
    if request.content_type == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("utf-8"), strict_parsing=False).get("payload")
        if not values:
            raise ValueError("form body without a payload field")
        body = values[0].encode("utf-8")
    payload = json.loads(body, parse_constant=_refuse_constant)
    if not isinstance(payload, dict):
        raise ValueError("payload is not a JSON object")
    return _without_nul(payload)


def _refuse_constant(name: str):
    # NaN and Infinity are not JSON; PostgreSQL's jsonb would refuse them later.
    raise ValueError(f"{name} is not valid JSON")


def _without_nul(value):
    """Drop NUL characters from strings: PostgreSQL cannot store them in jsonb."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


# The one csrf_exempt of the project: GitHub cannot send a CSRF token; the HMAC
# signature checked below authenticates the sender instead.
@csrf_exempt
@require_POST
def github_webhook(request: HttpRequest) -> JsonResponse:
    """Receive one GitHub webhook delivery.

    Headers: ``X-Hub-Signature-256`` (required), ``X-GitHub-Event``,
    ``X-GitHub-Delivery`` (a GUID), ``X-GitHub-Hook-ID``. Body: JSON (or
    ``application/x-www-form-urlencoded`` with a ``payload`` field).

    Returns:
        401 and nothing stored for a missing or wrong signature (or no secret
        configured); 400 for missing headers or a body that is not a JSON
        object; 200 ``{"status": "pong"}`` for ``ping``; 200
        ``{"status": "duplicate"}`` for a delivery seen before (nothing
        changes); 202 ``{"status": "queued"}`` for a pull-request event to
        process; 202 ``{"status": "ignored"}`` for other events (recorded).
    """
    secrets = [settings.GITHUB_WEBHOOK_SECRET, settings.GITHUB_WEBHOOK_PREVIOUS_SECRET]
    if not any(secrets):
        logger.error("GitHub webhook called but GITHUB_WEBHOOK_SECRET is not set; delivery refused")
        return _error(401, "Signature could not be verified.")
    header = request.headers.get("X-Hub-Signature-256")
    if not signature_is_valid(secrets=secrets, body=request.body, header=header):
        logger.warning(
            "GitHub webhook: %s signature from %s; delivery refused",
            "wrong" if header else "missing",
            request.META.get("REMOTE_ADDR", "?"),
        )
        return _error(401, "Signature could not be verified.")

    event = request.headers.get("X-GitHub-Event", "")
    guid = request.headers.get("X-GitHub-Delivery", "")
    hook_id = request.headers.get("X-GitHub-Hook-ID", "")
    if not _EVENT.fullmatch(event):
        return _error(400, "X-GitHub-Event is missing or malformed.")
    if not _GUID.fullmatch(guid):
        return _error(400, "X-GitHub-Delivery is missing or malformed.")
    if not _HOOK_ID.fullmatch(hook_id):
        return _error(400, "X-GitHub-Hook-ID is malformed.")
    try:
        payload = _decode(request)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return _error(400, f"The body is not a JSON object: {exc.__class__.__name__}.")

    receipt = services.delivery_receive(hook_id=hook_id, guid=guid, event=event, payload=payload)
    return JsonResponse({"status": receipt.status, "delivery": guid}, status=STATUS_CODES[receipt.status])
