"""Name each mail so that a bounce or a complaint about it leads back to its outbox row.

Both ways carry the row's random trace token (`Notification.trace_token`, 128 bits), never an
address or an id, so no one can make up a report about someone else's mail:

- the Message-ID, `<token@site-host>`: delivery reports (RFC 3464) and complaints (RFC 5965)
  quote the original's headers, and providers' webhooks report it;
- with BOUNCE_ADDRESS set (`bounces@example.org`), the envelope sender (the Return-Path) is
  `bounces+token@example.org` (VERP): reports come to it even when they quote nothing of the
  original, and an MTA can hand them to `manage.py read_bounce`.

The token is drawn when the row is made and stored, so every retry of a mail has the same
Message-ID (a receiver folds the copies of a resent mail into one).
"""

import re
from collections.abc import Iterable
from email.utils import getaddresses
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet

from ..models import Notification, new_trace_token

TOKEN = re.compile(r"[0-9a-f]{32}")


def token_of(notification: Notification) -> str:
    """Return the row's trace token, giving one to a row made before tokens existed."""
    if not notification.trace_token:
        token = new_trace_token()
        Notification.objects.filter(pk=notification.pk, trace_token=None).update(trace_token=token)
        notification.trace_token = Notification.objects.values_list("trace_token", flat=True).get(
            pk=notification.pk
        )
    return notification.trace_token or ""


def site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def message_id(notification: Notification) -> str:
    """Return the mail's Message-ID: its trace token at the site's host, the same on every retry."""
    return f"<{token_of(notification)}@{site_host()}>"


def return_path(notification: Notification) -> str | None:
    """Return the mail's envelope sender (VERP) if BOUNCE_ADDRESS is set, else None."""
    if not settings.BOUNCE_ADDRESS:
        return None
    local, domain = settings.BOUNCE_ADDRESS.rsplit("@", 1)
    return f"{local}+{token_of(notification)}@{domain}"


def token_in_message_id(value: str) -> str | None:
    """Return the trace token in a Message-ID we wrote (`<token@host>`), else None."""
    local = value.strip().strip("<>").rsplit("@", 1)[0].strip().lower()
    return local if TOKEN.fullmatch(local) else None


def token_in_address(value: str) -> str | None:
    """Return the trace token in a return address we gave (`bounces+token@domain`), else None.

    Takes an address in any of the forms reports write it: bare, in angle brackets, or typed
    (`rfc822; bounces+token@domain`, as in Original-Recipient).
    """
    if not settings.BOUNCE_ADDRESS:
        return None
    base = settings.BOUNCE_ADDRESS.rsplit("@", 1)[0].lower()
    value = value.split(";", 1)[-1] if ";" in value else value
    for _name, address in getaddresses([value]):
        local = address.rsplit("@", 1)[0].lower() if "@" in address else ""
        prefix, _plus, token = local.partition("+")
        if prefix == base and TOKEN.fullmatch(token):
            return token
    return None


def traced(message_ids: Iterable[str] = (), addresses: Iterable[str] = ()) -> set[str]:
    """Return the trace tokens found in these Message-IDs and return addresses."""
    tokens = {token_in_message_id(value) for value in message_ids}
    tokens |= {token_in_address(value) for value in addresses}
    return {token for token in tokens if token}


def notifications_traced_by(tokens: Iterable[str]) -> QuerySet[Notification]:
    """Return the outbox rows these trace tokens name (with their subscribers)."""
    return Notification.objects.filter(trace_token__in=list(tokens)).select_related("subscriber")
