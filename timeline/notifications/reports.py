"""Read one delivery status notification (RFC 3464) or complaint (RFC 5965, ARF).

Pure: bytes in, a `Report` out, or `NotAReport` / `Malformed`; no Django, no database.
What the report says of our mail is `Report.outcome()`:

- a DSN recipient with `Action: failed` and a 5.x.x status is a hard bounce, except X.2.2
  (mailbox full), which RFC 3463 also uses for persistent transient trouble: a soft one;
- `Action: delayed`, or a failure with a 4.x.x status (given up after retrying), is soft;
- `delivered`, `relayed` and `expanded` say nothing against the address;
- an ARF report with `Feedback-Type: abuse` (or `fraud`) is a complaint; other feedback types
  (`not-spam`, `virus`, `auth-failure`, `other`) say nothing against the address.

Where it came from (the original's Message-ID, the addresses it was sent to) is gathered for
notifications.tracing to match; this module does not know what our tokens look like.
"""

import email
import email.errors
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from typing import Literal

Outcome = Literal["hard", "soft", "complaint"]
STATUS = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})")
DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
ORIGINAL_TYPES = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/global-headers",
)
ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")
COMPLAINTS = ("abuse", "fraud")
# Headers that say a mail was written by a program (RFC 3834 and older customs).
AUTOMATIC = re.compile(r"auto|bulk|junk|list", re.IGNORECASE)


class Refused(ValueError):
    """The input is not a report this program acts on; the message says why."""


class NotAReport(Refused):
    """Not a multipart/report at all: a person's mail, an auto-reply, anything else."""

    def __init__(self, reason: str, automatic: bool = False) -> None:
        super().__init__(reason)
        # Written by a program (an out-of-office reply): to drop quietly, not to return.
        self.automatic = automatic


class Malformed(Refused):
    """Says it is a report, but lacks what one must have (cut short, or badly made)."""


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a DSN."""

    action: str
    status: str
    diagnostic: str


@dataclass(frozen=True)
class Report:
    """What a DSN or ARF report says, and where it says the mail came from."""

    report_type: Literal["delivery-status", "feedback-report"]
    recipients: tuple[RecipientStatus, ...]
    feedback_type: str
    # Of the original mail, from the headers the report quotes.
    message_ids: tuple[str, ...]
    # Where the report was sent, and the original's envelope sender (VERP return addresses).
    addresses: tuple[str, ...]

    def outcome(self) -> tuple[Outcome, str, str] | None:
        """Return (hard/soft/complaint, status, diagnostic), or None if nothing went wrong."""
        if self.report_type == "feedback-report":
            if self.feedback_type in COMPLAINTS:
                return "complaint", "", f"Feedback-Type: {self.feedback_type}"
            return None
        found: tuple[Outcome, str, str] | None = None
        for recipient in self.recipients:
            kind = _bounce_kind(recipient)
            if kind == "hard":
                return kind, recipient.status, recipient.diagnostic
            if kind == "soft" and found is None:
                found = kind, recipient.status, recipient.diagnostic
        return found


def _bounce_kind(recipient: RecipientStatus) -> Outcome | None:
    if recipient.action == "delayed":
        return "soft"
    if recipient.action != "failed":
        return None
    return failure_kind(recipient.status)


def failure_kind(status: str) -> Outcome:
    """Return whether a failed delivery with this RFC 3463 status is a hard or a soft bounce."""
    code = STATUS.fullmatch(status)
    if code is None:  # read() refuses such a DSN; from elsewhere, too unsure to suppress at once
        return "soft"
    permanent = code.group(1) == "5" and (code.group(2), code.group(3)) != ("2", "2")
    return "hard" if permanent else "soft"


def read(data: bytes) -> Report:
    """Parse one report; raise NotAReport or Malformed with a reason a person can act on."""
    if not data.strip():
        raise NotAReport("The input is empty.")
    try:
        message = email.message_from_bytes(data)
    except Exception as error:  # the parser is lenient; anything it still raises is bad input
        raise Malformed(f"The input could not be parsed as a mail ({error}).") from error
    if message.get_content_type() != "multipart/report":
        automatic = _automatic(message)
        raise NotAReport(
            f"Not a delivery or complaint report (Content-Type {message.get_content_type()}, "
            "expected multipart/report).",
            automatic=automatic,
        )
    if any(isinstance(d, email.errors.CloseBoundaryNotFoundDefect) for d in message.defects):
        raise Malformed("The report is cut short: its MIME structure never ends.")
    payload = message.get_payload()
    parts = (
        [part for part in payload if isinstance(part, Message)] if isinstance(payload, list) else []
    )
    if not parts:
        raise Malformed("The multipart/report has no parts.")
    report_type = str(message.get_param("report-type") or "").lower()
    types = [part.get_content_type() for part in parts]
    if report_type not in ("delivery-status", "feedback-report"):
        if any(kind in DSN_TYPES for kind in types):
            report_type = "delivery-status"
        elif "message/feedback-report" in types:
            report_type = "feedback-report"
        else:
            raise NotAReport(f"A report of a kind this program does not read ({report_type!r}).")
    original = _original_headers(parts)
    message_ids = tuple(_all(original, "Message-ID"))
    addresses = [
        *_all(message, "To"),
        *_all(message, "Delivered-To"),
        *_all(message, "X-Original-To"),
        *_all(original, "Return-Path"),
    ]
    if report_type == "delivery-status":
        status_part = next((part for part in parts if part.get_content_type() in DSN_TYPES), None)
        if status_part is None:
            raise Malformed("The delivery report has no message/delivery-status part.")
        blocks = _blocks(status_part)
        # Postfix names the envelope sender of the returned mail among the per-message fields.
        addresses += [value for block in blocks for value in _all(block, "X-Postfix-Sender")]
        return Report(
            report_type="delivery-status",
            recipients=_recipient_statuses(blocks),
            feedback_type="",
            message_ids=message_ids,
            addresses=tuple(addresses),
        )
    fields = _feedback_fields(parts)
    feedback_type = _one_line(fields.get("Feedback-Type", "")).lower()
    if not feedback_type:
        raise Malformed("The complaint report has no Feedback-Type (RFC 5965, section 3.1).")
    if original is None:
        raise Malformed("The complaint report does not include the original message.")
    addresses += _all(fields, "Original-Mail-From")
    return Report(
        report_type="feedback-report",
        recipients=(),
        feedback_type=feedback_type,
        message_ids=message_ids,
        addresses=tuple(addresses),
    )


def _automatic(message: Message) -> bool:
    auto_submitted = _one_line(message.get("Auto-Submitted", "")).lower()
    precedence = _one_line(message.get("Precedence", ""))
    return (
        bool(auto_submitted and auto_submitted != "no")
        or bool(AUTOMATIC.search(precedence))
        or "X-Autoreply" in message
        or "X-Autorespond" in message
    )


def _one_line(value: object) -> str:
    return " ".join(str(value).split())


def _all(headers: Message | None, name: str) -> list[str]:
    if headers is None:
        return []
    return [_one_line(value) for value in headers.get_all(name, [])]


def _blocks(part: Message) -> list[Message]:
    """Return the header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list) and part.get_content_type() == "message/delivery-status":
        return [block for block in payload if isinstance(block, Message)]
    if isinstance(payload, list):
        # Other message/* types are parsed as one nested mail: its header block, then the rest.
        text = "".join(block.as_string() for block in payload if isinstance(block, Message))
    else:
        # Sent with a transfer encoding, the parser leaves it as text: split it ourselves.
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    text = text.replace("\r\n", "\n")
    return [HeaderParser().parsestr(block) for block in re.split(r"\n[ \t]*\n", text) if block]


def _recipient_statuses(blocks: list[Message]) -> tuple[RecipientStatus, ...]:
    recipients = []
    for block in blocks:
        if "Final-Recipient" not in block and "Action" not in block:
            continue  # the per-message fields
        action = _one_line(block.get("Action", "")).lower()
        status = _one_line(block.get("Status", "")).split(" ")[0]
        if action not in ACTIONS:
            raise Malformed(f"A recipient's Action is {action or 'missing'!r} (RFC 3464, 2.3.3).")
        if not STATUS.fullmatch(status):
            raise Malformed(f"A recipient's Status is {status or 'missing'!r} (RFC 3464, 2.3.4).")
        diagnostic = _one_line(block.get("Diagnostic-Code", ""))
        recipients.append(RecipientStatus(action=action, status=status, diagnostic=diagnostic))
    if not recipients:
        raise Malformed("The delivery report names no recipient (RFC 3464, 2.3).")
    return tuple(recipients)


def _feedback_fields(parts: list[Message]) -> Message:
    part = next((p for p in parts if p.get_content_type() == "message/feedback-report"), None)
    if part is None:
        raise Malformed("The complaint report has no message/feedback-report part.")
    blocks = _blocks(part)
    if not blocks:
        raise Malformed("The complaint report's message/feedback-report part is empty.")
    return blocks[0]


def _original_headers(parts: list[Message]) -> Message | None:
    """Return the headers of the original mail the report quotes, if it quotes them."""
    for part in parts:
        kind = part.get_content_type()
        if kind not in ORIGINAL_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
        return HeaderParser().parsestr(text.replace("\r\n", "\n"), headersonly=True)
    return None
