"""Conditional writes for the API: ``ETag`` on reads, ``If-Match`` on updates.

The contract ("No lost edits", issue 9): a post-mortem's or action item's
``ETag`` is its integer ``version`` in double quotes (a strong validator,
``"7"``). Every update must send ``If-Match`` with the ETag the client last
read:

* missing → 428 Precondition Required (RFC 6585 §3), nothing changes;
* not the current version → 412 Precondition Failed with ``current_version``
  and the current ``ETag``, nothing changes;
* ``*`` → "any version": an explicit unconditional write (RFC 9110 §13.1.1);
* a list (``"3", "4"``) matches if any tag matches; weak tags (``W/"3"``) never
  match, because If-Match uses the strong comparison (RFC 9110 §8.8.3.2);
* not an entity tag at all (``7`` without quotes, ``"7``) → 400, so a client bug
  is told apart from a lost race.

When the tag matches, the view passes the version to the service as
``expected_version``; a writer that saves between the check and the write is
caught there (``services.StaleVersionError``) and answered with the same 412.
The checks run after "may you see it" (404) and "may you change it" (403) and
before the body is validated, as RFC 9110 §13.2.1 orders them.
"""

from __future__ import annotations

import re

from rest_framework import exceptions, serializers, status
from rest_framework.request import Request

IF_MATCH_MISSING = "This update needs an If-Match header with the ETag from your last read."
IF_MATCH_STALE = (
    "This was changed by someone else since you read it (now version {version}). "
    "Read it again, re-apply your change and send the new ETag in If-Match."
)
IF_MATCH_MALFORMED = (
    'If-Match must be "*" or one or more entity tags in double quotes, e.g. If-Match: "7" '
    "(the ETag header of your last read)."
)

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3).
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')
_SEPARATORS = re.compile(r"[ \t,]*")
_AFTER_TAG = re.compile(r"[ \t]*(?:,|$)")


def etag_for(version: int) -> str:
    """The strong ETag of a version: ``7`` → ``'"7"'``."""
    return f'"{int(version)}"'


class PreconditionRequired(exceptions.APIException):
    """HTTP 428: an update came without ``If-Match``."""

    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = IF_MATCH_MISSING
    default_code = "precondition_required"


class MalformedIfMatch(exceptions.ParseError):
    """HTTP 400: ``If-Match`` is neither ``*`` nor a list of entity tags."""

    default_detail = IF_MATCH_MALFORMED
    default_code = "malformed_if_match"


class PreconditionFailed(Exception):
    """The client's version is not the stored one (answered with HTTP 412).

    Not an ``APIException``: its body carries ``current_version`` as an integer
    and the response the current ``ETag``, which DRF's handler cannot add;
    ``ConditionalWriteMixin.handle_exception`` renders it.

    Attributes:
        current_version: the version now stored (int).
    """

    def __init__(self, current_version: int):
        super().__init__(IF_MATCH_STALE.format(version=current_version))
        self.current_version = int(current_version)


def parse_if_match(value: str | None) -> list[str] | None:
    """Read an ``If-Match`` header value.

    Returns:
        None when the header is missing or blank; ``["*"]`` for ``*``; else the
        strong tags' opaque values in order, e.g. ``'"3", W/"4"'`` → ``["3"]``
        (weak tags are dropped: they can never match, RFC 9110 §13.1.1).

    Raises:
        MalformedIfMatch: when the value is not ``*`` or a comma-separated list of
            quoted entity tags.
    """
    if value is None or not value.strip():
        return None
    if value.strip() == "*":
        return ["*"]
    tags: list[str] = []
    seen = False
    position = 0
    while True:
        # Empty list elements (", ,") are allowed and ignored (RFC 9110 §5.6.1.2).
        position = _SEPARATORS.match(value, position).end()
        if position >= len(value):
            break
        match = _ENTITY_TAG.match(value, position)
        if match is None:
            raise MalformedIfMatch()
        seen = True
        if not match.group(1):
            tags.append(match.group(2))
        after = _AFTER_TAG.match(value, match.end())
        if after is None:
            raise MalformedIfMatch()
        position = after.end()
    if not seen:
        raise MalformedIfMatch()
    return tags


def required_version(request: Request, current_version: int) -> int | None:
    """Check the request's ``If-Match`` against ``current_version``.

    Args:
        request: the DRF request of an update.
        current_version: the object's stored ``version`` as the view read it.

    Returns:
        The version to hand to the service as ``expected_version``: the matching
        one, or None for ``If-Match: *`` (an unconditional write).

    Raises:
        PreconditionRequired: no ``If-Match`` (428).
        MalformedIfMatch: an unreadable ``If-Match`` (400).
        PreconditionFailed: no tag names ``current_version`` (412).
    """
    tags = parse_if_match(request.headers.get("If-Match"))
    if tags is None:
        raise PreconditionRequired()
    if tags == ["*"]:
        return None
    if str(int(current_version)) in tags:
        return int(current_version)
    raise PreconditionFailed(current_version)


class ErrorSerializer(serializers.Serializer):
    """The body of a refused request: ``{"detail": "<why>"}``."""

    detail = serializers.CharField()


class PreconditionFailedSerializer(ErrorSerializer):
    """The body of a 412: why, and the ``current_version`` to read again."""

    current_version = serializers.IntegerField(min_value=1)
