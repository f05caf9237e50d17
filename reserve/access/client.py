"""Who is on the other end of a request: the peer address, unless settings.TRUSTED_PROXIES says
how many proxies in front of the service append to X-Forwarded-For. The one rule that login
lockout (django-axes) and the token endpoint's throttle both use, so a header the client writes
never chooses its own bucket."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR with no trusted proxy; with N trusted proxies, the
    address the outermost of them saw (the Nth entry of X-Forwarded-For from the right)."""
    peer = str(request.META.get("REMOTE_ADDR", ""))
    proxies = int(getattr(settings, "TRUSTED_PROXIES", 0))
    if proxies <= 0:
        return peer
    chain = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
    return chain[-proxies] if len(chain) >= proxies else peer
