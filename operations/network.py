"""The client's address when the app runs behind N trusted reverse proxies."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address of the client that sent ``request``.

    With ``NUM_PROXIES`` = 0 (no proxy) it is ``REMOTE_ADDR``, whatever
    ``X-Forwarded-For`` says, so a client cannot pick its own address. With N
    proxies in front it is the N-th address from the right of
    ``X-Forwarded-For`` (each proxy appends the address it saw), the same rule
    as DRF's ``NUM_PROXIES`` throttling (``SimpleRateThrottle.get_ident``), so
    login lockouts, API throttles and logs agree on who the client is.

    Returns:
        An address as a string; "" when the request carries none.
    """
    num_proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if num_proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    return hops[-min(num_proxies, len(hops))]
