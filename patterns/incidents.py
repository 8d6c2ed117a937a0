"""Which post-mortems describe the same incident.

Imported corpora hold some incidents twice: the README of the public corpora
links 191 icco records to danluu write-ups by URL, and the icco and ISSRE'22
collections both carry some Google Cloud incidents. Pattern detection counts
each incident once (``patterns.windows.dedupe_sorted``). Two post-mortems are
copies of one incident when

1. their source URLs are equal once normalised the way
   ``shared/data/postmortems/README.md`` ("Cross-links and duplicates") compares
   them (Wayback Machine prefix removed, scheme ignored, host lower-cased
   without ``www.``, trailing slash and fragment dropped, query kept);
2. they started less than 24 hours apart; and
3. they come from different collections (``source_collection``).

A URL alone is not an identity: in the ISSRE'22 collection 57 Azure incidents
link to the one status-history page and up to 22 share one PDF of root-cause
analyses, sometimes two on the same day. Within one imported collection every
record is its own incident; post-mortems written in the app are each their own
collection, so two of them about one incident do merge.

External ids need no rule of their own: the database allows one post-mortem per
external id (``unique_postmortem_external_id``), so re-importing a record
updates its post-mortem instead of adding a copy.
"""

from __future__ import annotations

import re

_WAYBACK = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?web\.archive\.org/web/[^/]*/", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def normalise_source_url(url: str) -> str:
    """The comparison form of a write-up's URL.

    Args:
        url: e.g. ``"https://web.archive.org/web/2016/http://WWW.Example.com/post/#top"``.

    Returns:
        e.g. ``"example.com/post"``; ``""`` for a blank URL. The query string is
        kept (``?id=3`` names a different page), the port too.
    """
    text = (url or "").strip()
    if not text:
        return ""
    # A snapshot may wrap another snapshot's address; unwrap until none is left.
    while "archive.org" in text.lower():
        unwrapped = _WAYBACK.sub("", text, count=1)
        if unwrapped == text:
            break
        text = unwrapped
    text = _SCHEME.sub("", text, count=1)
    text = text.split("#", 1)[0]
    path_at = min((i for i in (text.find("/"), text.find("?")) if i >= 0), default=len(text))
    host, rest = text[:path_at], text[path_at:]
    host = host.rsplit("@", 1)[-1].lower()
    if host.startswith("www."):
        host = host[4:]
    path, query = (rest.split("?", 1) + [""])[:2] if "?" in rest else (rest, "")
    path = path.rstrip("/")
    return host + path + (f"?{query}" if query else "")


def source_collection(*, postmortem_id: int, external_id: str = "") -> str:
    """The collection a post-mortem was imported from: its external id's prefix
    (``icco``, ``danluu``, ``issre22``, …), or ``pm:<id>`` for one written in the app."""
    if external_id and "-" in external_id:
        return external_id.split("-", 1)[0].lower()
    return f"pm:{postmortem_id}"
