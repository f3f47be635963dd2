"""Read one bounce (RFC 3464 DSN) or complaint (RFC 5965 ARF) on standard input, as an MTA pipes it.

Exit codes follow sysexits.h, which Postfix (local, pipe) and Exim (pipe transport) read:
  0   taken, or nothing to do, or not about a mail of ours: the MTA drops the message;
  65  (EX_DATAERR) not a report, or a malformed one: the MTA returns it to its sender with the
      message printed here (a report's sender is empty, so it ends as a discarded double bounce);
  75  (EX_TEMPFAIL) the database is unreachable, or something unexpected failed: the MTA keeps
      the message and tries again later, so no report is lost to an outage.
Messages go to standard error, one line, never a traceback, never an address or a token.
"""

import logging
import os
import sys
from typing import IO, Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError

from ...notifications import bounces, reports

EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75
# Reports quote the original (ours are well under 1 MB, attachment included).
MAX_BYTES = 10 * 1024 * 1024
# The envelope recipient, as Postfix's local(8) (ORIGINAL_RECIPIENT, RECIPIENT) and Exim's pipe
# transport (RECIPIENT) give it to the command: the VERP return address the report came to.
RECIPIENT_VARIABLES = ("ORIGINAL_RECIPIENT", "RECIPIENT")

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Read one delivery status notification (RFC 3464) or complaint (RFC 5965) on standard "
        "input and suppress the address it is about. Exit 0: taken or not ours; 65: not a "
        "report, or malformed; 75: try again later."
    )
    # call_command(..., stdin=...) in tests; from a shell it is the process's standard input.
    stealth_options = ("stdin",)
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--recipient",
            action="append",
            default=[],
            help=(
                "The envelope recipient the report was delivered to (the VERP return address), "
                "e.g. Postfix pipe(8) ${original_recipient}. Repeatable."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source: IO[bytes] = options.get("stdin") or sys.stdin.buffer
        data = source.read(MAX_BYTES + 1)
        addresses = [
            *options["recipient"],
            *(os.environ[name] for name in RECIPIENT_VARIABLES if os.environ.get(name)),
        ]
        if len(data) > MAX_BYTES:
            self._refuse(f"The input is larger than {MAX_BYTES} bytes: not a report.", EX_DATAERR)
        try:
            report = reports.read(data)
        except reports.NotAReport as refusal:
            if refusal.automatic:
                self._drop(f"{refusal} An automatic reply: dropped.")
                return
            self._refuse(str(refusal), EX_DATAERR)
        except reports.Malformed as refusal:
            self._refuse(f"Malformed report: {refusal}", EX_DATAERR)
        try:
            taken = bounces.take_report(report, addresses)
        except bounces.Untraceable:
            self._drop(
                "The report is about no mail of ours (no known Message-ID or return address): "
                "dropped."
            )
            return
        except bounces.Ambiguous:
            self._refuse("The report names more than one of our mails: refused.", EX_DATAERR)
        except (OperationalError, InterfaceError) as error:
            name = error.__class__.__name__
            self._refuse(f"The database is unreachable ({name}); try again later.", EX_TEMPFAIL)
        except Exception as error:  # never a traceback to the MTA; the message stays queued
            name = error.__class__.__name__
            log.error("read_bounce could not record a report: %s", name)
            self._refuse(f"Could not record the report ({name}); try again later.", EX_TEMPFAIL)
        self.stdout.write(taken.describe())

    def _drop(self, message: str) -> None:
        self.stderr.write(message)

    def _refuse(self, message: str, code: int) -> NoReturn:
        raise CommandError(message, returncode=code)
