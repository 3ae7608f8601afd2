"""The caller's address, derived only from what the deployment says it can trust."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """Return the client IP: REMOTE_ADDR, or the trusted proxy hop of X-Forwarded-For."""
    hops = settings.LATCHKEY_TRUSTED_PROXIES
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104 (an address, not a bind)
    if hops <= 0:
        return remote
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [p for p in forwarded if p]
    # The right-most `hops` entries were appended by our own proxies; anything further
    # left came from the client and may be spoofed.
    if len(forwarded) >= hops:
        return forwarded[-hops]
    return remote
