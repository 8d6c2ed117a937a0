"""What the OpenAPI schema says about every API operation, in one place.

drf-spectacular documents the success response of each view from its
serializer; the error answers every DRF view can give (400 for bad input, 401
without credentials, 403 for a signed-in user who may not, 404 for an unknown
or invisible object or page, 429 when throttled) would otherwise have to be
repeated on each view. ``add_common_error_responses`` adds them where a view did
not document them itself, so a client generated from the schema, and
schemathesis's ``status_code_conformance`` check, know every answer (OWASP API
Top 10 2023, API9 "Improper inventory management").

``allow_blank_urls`` fixes one systematic mismatch: optional URL fields are
stored as "" when empty (Django's convention for text columns), which is not a
``format: uri`` string; such properties are documented as "a URI or empty".

Both are drf-spectacular post-processing hooks (``POSTPROCESSING_HOOKS``):
``hook(result, generator, request, public) -> result``, where ``result`` is the
OpenAPI document as a dict.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

_ERROR_SCHEMA = {
    "type": "object",
    "description": "`detail` says what went wrong; a 400 names each invalid field instead.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
_DESCRIPTIONS = {
    "400": "The request is invalid; the body says which fields and why. Nothing was changed.",
    "401": "Not signed in: send a session cookie or `Authorization: Token <key>`.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object or page (or you may not see it).",
    "429": "Too many requests; wait and retry.",
}
_METHODS = ("get", "put", "patch", "post", "delete")


def _error_response(code: str, other_media: list[str]) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}
    # A view that renders Markdown or iCalendar answers its errors with the
    # renderer the client asked for (DRF content negotiation): document those too.
    for media in other_media:
        content[media] = {"schema": {"type": "string"}}
    return {"description": _DESCRIPTIONS[code], "content": content}


def _success_media(responses: dict) -> list[str]:
    media: list[str] = []
    for code, response in responses.items():
        if str(code).startswith("2"):
            for name in response.get("content", {}):
                if name != "application/json" and name not in media:
                    media.append(name)
    return media


def add_common_error_responses(result: dict, generator, request, public) -> dict:
    """Document 400/401/403/404/429 on every operation that does not already.

    A 400 is added where the operation takes a body or query parameters; the
    others everywhere (any view may refuse, and list pages answer 404 for a page
    number past the end). Existing entries are never replaced.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["ApiError"] = _ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for method in _METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            takes_input = "requestBody" in operation or any(
                parameter.get("in") == "query" for parameter in operation.get("parameters", [])
            )
            other_media = _success_media(responses)
            for code in ("400", "401", "403", "404", "429"):
                if code == "400" and not takes_input:
                    continue
                responses.setdefault(code, _error_response(code, other_media))
    return result


def _blankable(prop: dict) -> dict:
    kept = {key: prop[key] for key in ("readOnly", "writeOnly", "description", "title") if key in prop}
    uri = {key: value for key, value in prop.items() if key not in kept}
    return {"anyOf": [uri, {"type": "string", "maxLength": 0}], **kept}


def allow_blank_urls(result: dict, generator, request, public) -> dict:
    """Document optional ``format: uri`` properties as "a URI or the empty string"."""
    for schema in result.get("components", {}).get("schemas", {}).values():
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            if prop.get("format") == "uri" and (prop.get("readOnly") or name not in required):
                schema["properties"][name] = _blankable(prop)
    return result


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The site's 404: JSON under ``/api/`` (as the schema documents), the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
