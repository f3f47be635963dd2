"""A real SMTP server in the test process (aiosmtpd) that records what it is sent.

It can answer 451 (try later) to every n-th message, 550 to chosen recipients, or store a
message and drop the connection before answering.
"""

import asyncio
import email
import email.policy
import threading
import time
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller

from .processes import free_port


@dataclass
class SmtpSink:
    """Records messages; behaviour switches are read on every DATA command."""

    temporary_failure_every: int = 0  # answer 451 to every n-th message (0: never)
    drop_after_store_every: int = 0  # store every n-th message, then drop the line unanswered
    delay: float = 0.0  # seconds to take over each message (a slow server)
    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    messages: list = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)  # parsed once, on arrival
    senders: list[str] = field(default_factory=list)  # the envelope sender (MAIL FROM) of each
    raw: list[bytes] = field(default_factory=list)  # each message as the server received it
    arrivals: list[float] = field(default_factory=list)  # time.time() of each accepted message
    attempts: int = 0
    dropped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.attempts += 1
            if self.temporary_failure_every and self.attempts % self.temporary_failure_every == 0:
                return "451 4.3.0 Try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(message)
            self.message_ids.append(message["Message-ID"])
            self.senders.append(envelope.mail_from)
            self.raw.append(envelope.content)
            self.arrivals.append(time.time())
            if self.drop_after_store_every and self.attempts % self.drop_after_store_every == 0:
                self.dropped += 1
                server.transport.abort()  # stored, but the client never hears so
        return "250 Message accepted"

    def ids(self) -> list[str]:
        with self.lock:
            return list(self.message_ids)

    def to(self, address: str) -> list:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    """Run an SmtpSink on a free local port until stopped."""

    def __init__(self, sink: SmtpSink | None = None) -> None:
        self.sink = sink or SmtpSink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
