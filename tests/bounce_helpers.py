"""Mail really sent over SMTP in a test, and the reports about it mail systems send back."""

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from timeline.models import Notification, Subscriber
from timeline.notifications import dispatch, scheduling

from .notify_helpers import follower, topic, upcoming_event

SAMPLES = Path(__file__).resolve().parent / "mail_samples"
BOUNCE_ADDRESS = "bounces@bounces.timeline.test"


@dataclass
class Sent:
    """One mail the SMTP server received: parsed, raw, and its envelope sender."""

    message: object
    raw: bytes
    sender: str

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"]).strip()

    @property
    def recipient(self) -> str:
        return str(self.message["To"])

    @property
    def headers(self) -> str:
        """Return the mail's header block as the server received it (LF line ends)."""
        block = self.raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
        return block.decode("ascii")


def sent(smtp, index: int = -1) -> Sent:
    """Return the *index*-th mail the server received."""
    with smtp.lock:
        return Sent(smtp.messages[index], smtp.raw[index], smtp.senders[index])


def report(name: str, mail: Sent) -> bytes:
    """Return the sample report *name* about *mail*, as the mail system would send it."""
    text = (SAMPLES / name).read_text()
    for marker, value in (
        ("{{ORIGINAL_HEADERS}}", mail.headers),
        ("{{MESSAGE_ID}}", mail.message_id),
        ("{{RETURN_PATH}}", mail.sender),
        ("{{RECIPIENT}}", mail.recipient),
    ):
        text = text.replace(marker, value)
    return text.encode()


def read_bounce(data: bytes, *arguments: str) -> tuple[int, str, str]:
    """Run `manage.py read_bounce` on *data*; return its exit code, output and error output."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("read_bounce", *arguments, stdin=io.BytesIO(data), stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), f"{err.getvalue()}{error}"
    return 0, out.getvalue(), err.getvalue()


def reminded_reader(smtp, email: str = "reader@example.com", followed=None):
    """Return a follower, what they follow, and the reminder just sent to them over SMTP."""
    energy = followed or topic()
    reader = follower(email, energy, lead_times=(60,))
    event = upcoming_event(energy, starts_in=dt.timedelta(minutes=50), title="Talks in Astana")
    scheduling.sync_event(event.pk)
    dispatch.dispatch_due()
    mail = sent(smtp)
    assert mail.recipient == email
    return reader, energy, mail


def new_event(followed, minutes: int = 45):
    """Publish an event of *followed* starting in *minutes*, its outbox brought in line."""
    event = upcoming_event(followed, starts_in=dt.timedelta(minutes=minutes))
    scheduling.sync_event(event.pk)
    return event


def send_reminder(smtp, reader: Subscriber, followed, minutes: int = 45) -> Sent:
    """Send *reader* a reminder of a new event they follow (due now); return the mail."""
    before = len(smtp.messages)
    new_event(followed, minutes)
    dispatch.dispatch_due()
    assert len(smtp.messages) == before + 1
    mail = sent(smtp)
    assert mail.recipient == reader.email
    return mail


def row_of(mail: Sent) -> Notification:
    """Return the outbox row a sent mail came from (by its Message-ID, as a test may)."""
    token = mail.message_id.strip("<>").split("@")[0]
    return Notification.objects.get(trace_token=token)


def later(minutes: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)


def confirm_path(mail: Sent) -> str:
    """Return the path of the confirmation link in a confirmation mail's text part."""
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    (url,) = re.findall(r"https://timeline\.test(/\w\w/confirm/[^/\s]+/)", text)
    return url
