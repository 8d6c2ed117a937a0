"""Verify GitHub's webhook signature (``X-Hub-Signature-256``).

GitHub signs each delivery with HMAC-SHA256 over the raw request body, keyed
with the webhook's secret, and sends ``sha256=<64 hex digits>``
(docs.github.com, "Validating webhook deliveries"). The legacy SHA-1 header
``X-Hub-Signature`` is ignored on purpose. Comparison is constant-time
(``hmac.compare_digest``), so the time taken does not tell how much of a forged
signature was right.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

PREFIX = "sha256="


def signature_for(*, secret: str, body: bytes) -> str:
    """The header value GitHub would send for ``body`` signed with ``secret``.

    Returns:
        ``"sha256=<hex>"`` (71 characters).
    """
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"{PREFIX}{digest}"


def signature_is_valid(*, secrets: Iterable[str], body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` under one of ``secrets``.

    Several secrets are accepted so a secret can be rotated without dropping
    deliveries (the new one and, until GitHub uses it everywhere, the old one).

    Args:
        secrets: configured secrets; empty strings are skipped, so an
            unconfigured secret never verifies anything.
        body: the raw request body, exactly as received (re-serialised JSON
            would not match).
        header: the ``X-Hub-Signature-256`` value, or None when absent.

    Returns:
        False for a missing header, a missing ``sha256=`` prefix, a truncated or
        wrong digest, or when no secret is configured.
    """
    if not header or not header.startswith(PREFIX):
        return False
    received = header.encode("utf-8")
    valid = False
    for secret in secrets:
        if not secret:
            continue
        expected = signature_for(secret=secret, body=body).encode("ascii")
        # No early exit: check every configured secret the same way.
        valid = hmac.compare_digest(expected, received) or valid
    return valid
