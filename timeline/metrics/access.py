"""Who may read /metrics: whoever presents METRICS_TOKEN, from METRICS_ALLOWED_NETWORKS if set."""

import hmac
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

from ..security.client_ip import Network, client_ip, parse_networks


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(cidrs, setting="METRICS_ALLOWED_NETWORKS")


def from_allowed_network(request: HttpRequest) -> bool:
    """Tell whether the client is in METRICS_ALLOWED_NETWORKS (anywhere when it is empty)."""
    networks = _networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in networks)


def presents_token(request: HttpRequest) -> bool:
    """Tell whether the request carries `Authorization: Bearer <METRICS_TOKEN>` (never if unset)."""
    token: str = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def may_read_metrics(request: HttpRequest) -> bool:
    """Tell whether this request may read the metrics."""
    return presents_token(request) and from_allowed_network(request)
