"""The visitor's address, as seen by the outermost reverse proxy we trust."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """Return the client's IP address, trusting only our own proxies' X-Forwarded-For entries.

    Each of our TRUSTED_PROXY_COUNT proxies appends the address it saw, so the client is the
    Nth entry from the right; anything left of it was written by the client and is ignored.
    """
    peer = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return peer
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    # Fewer entries than proxies: the request did not come through them all (a direct hit).
    return forwarded[-count] if len(forwarded) >= count else peer
