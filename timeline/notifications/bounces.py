"""Act on a bounce or a complaint about one of our mails: find its row, record what was said.

Both ways in end here: `manage.py read_bounce` (a report an MTA pipes to it, read by
notifications.reports) and provider webhooks (notifications.webhooks). The mail is found by its
trace token only (notifications.tracing); what it changes is decided by services.record_bounce.
Logs name rows by id, never an address, a token or a server's diagnostic (which quotes the
address).
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from ..models import Bounce, Notification
from . import reports, services, tracing

log = logging.getLogger(__name__)
# For logs and the command's output (not translated: read by whoever runs the mail server).
WORDS = {Bounce.HARD: "Hard bounce", Bounce.SOFT: "Soft bounce", Bounce.COMPLAINT: "Complaint"}


class Untraceable(Exception):
    """The report names no mail of ours (or one sent before mail carried a trace token)."""


class Ambiguous(Exception):
    """The report names more than one of our mails: no way to tell which it is about."""


@dataclass(frozen=True)
class Taken:
    """What was done with a report."""

    notification: Notification | None
    bounce: Bounce | None
    result: services.BounceResult | None

    def describe(self) -> str:
        if self.notification is None or self.bounce is None or self.result is None:
            return "Nothing went wrong with the mail: nothing to do."
        return (
            f"{WORDS[self.bounce]} about mail {self.notification.pk} to subscriber "
            f"{self.notification.subscriber_id}: {self.result.value.replace('_', ' ')}."
        )


def traced_notification(message_ids: Iterable[str], addresses: Iterable[str]) -> Notification:
    """Return the one mail of ours that these Message-IDs and return addresses name."""
    tokens = tracing.traced(message_ids, addresses)
    rows = list(tracing.notifications_traced_by(tokens)) if tokens else []
    if not rows:
        raise Untraceable
    if len(rows) > 1:
        raise Ambiguous
    return rows[0]


def take_report(report: reports.Report, addresses: Iterable[str] = ()) -> Taken:
    """Record what a DSN or ARF report says of our mail (*addresses*: its envelope recipients)."""
    outcome = report.outcome()
    if outcome is None:
        return Taken(None, None, None)
    kind, status, diagnostic = outcome
    notification = traced_notification(report.message_ids, [*addresses, *report.addresses])
    return take(notification, Bounce(kind), status, diagnostic, source=report.report_type)


def take(
    notification: Notification, bounce: Bounce, status: str, diagnostic: str, source: str
) -> Taken:
    """Record a bounce or complaint about *notification*, and log what it changed."""
    result = services.record_bounce(
        notification=notification, bounce=bounce, status=status, diagnostic=diagnostic
    )
    log.info(
        "%s (%s, status %s) about notification %s of subscriber %s: %s",
        WORDS[bounce],
        source,
        status or "-",
        notification.pk,
        notification.subscriber_id,
        result.value,
    )
    return Taken(notification, bounce, result)
