"""The visitor's address, and which forwarding headers are believed: only our own proxies'."""

import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Headers a client could forge to pass for someone else, or for https.
FORWARDING_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
)


def parse_networks(values: Iterable[str], setting: str = "TRUSTED_PROXIES") -> tuple[Network, ...]:
    """Parse CIDRs such as '10.0.0.0/8' or '172.18.0.2', or raise ImproperlyConfigured."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{setting}: “{value}” is not an IP network; give addresses or CIDRs such as "
                "10.0.0.0/8 or 172.18.0.2, separated by commas."
            ) from None
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(proxies)


def is_trusted_proxy(address: str) -> bool:
    """Tell whether *address* belongs to one of the TRUSTED_PROXIES networks."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in _trusted(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request: HttpRequest) -> str:
    """Return the client's IP address, believing X-Forwarded-For only from our own proxies.

    Each of our proxies appends the address it saw; walking from the right past our own
    proxies, the first address that is not ours is the client. Entries left of it were
    written by the client and are ignored, as is the whole header from anyone but a proxy.
    """
    peer: str = request.META.get("REMOTE_ADDR", "")
    if not is_trusted_proxy(peer):
        return peer
    client = peer
    for entry in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        entry = entry.strip()
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            break  # none of our proxies writes this: the client did
        client = entry
        if not is_trusted_proxy(entry):
            break
    return client


class ForwardedHeadersMiddleware:
    """Drop forwarding headers that did not come from one of our proxies.

    Django believes SECURE_PROXY_SSL_HEADER from any peer; this makes it our proxies' word
    only, so nobody can pass for https (or for another address) by sending the header.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            for header in FORWARDING_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)
