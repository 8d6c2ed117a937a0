"""Request-body parsers for the API that refuse the NUL character.

PostgreSQL text cannot hold U+0000: a NUL that reaches a query (a slug or a
username looked up by a related field, which DRF's ``ProhibitNullCharactersValidator``
does not guard) ends in a database error and a 500, while SQLite accepts it. Found
by schemathesis (docs/reliability.md, T26). Refusing it while parsing gives every
endpoint the same clear 400 on both engines, before any view runs.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

NUL_REFUSED = "Text may not contain the NUL character (\\u0000)."


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(item) for item in value)
    return False


def _check(data: Any) -> Any:
    if hasattr(data, "lists"):  # QueryDict: every value of every key
        values = [(key, item) for key, items in data.lists() for item in items]
        if any(_has_nul(key) or _has_nul(item) for key, item in values):
            raise ParseError(NUL_REFUSED)
    elif _has_nul(data):
        raise ParseError(NUL_REFUSED)
    return data


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; raises ``ParseError`` (400) when any key or string holds NUL."""

    def parse(self, stream, media_type=None, parser_context=None):
        return _check(super().parse(stream, media_type, parser_context))


class FormParser(parsers.FormParser):
    """DRF's form parser; raises ``ParseError`` (400) when any field holds NUL."""

    def parse(self, stream, media_type=None, parser_context=None):
        return _check(super().parse(stream, media_type, parser_context))


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser; raises ``ParseError`` (400) when any text field holds NUL."""

    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _check(result.data)
        return result
