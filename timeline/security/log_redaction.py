"""Keep secret link tokens out of logs: the one redaction, for gunicorn's logs and Django's.

A token in a log line works for whoever reads the log (private feeds, confirm, preferences,
unsubscribe). Every line is redacted as written, wherever the URL appears in it (request line,
Referer, a 404's "Not Found: …", an exception's text).

Importable without Django set up: gunicorn's master process logs before any app is loaded.
"""

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

# The path before the token of every URL in timeline/urls.py whose route has a `token`
# (tests/test_log_redaction.py fails if one is missing here).
SECRET_PATH_PREFIXES = ("feeds/private/", "confirm/", "subscriptions/", "unsubscribe/")
REDACTED = "[redacted]"

# The token is the rest of the path segment, less a trailing ".ics"; not anchored to the start
# of a path, so a prefix mounted elsewhere (or doubled slashes) is redacted too.
_PREFIX = "|".join(re.escape(prefix) for prefix in SECRET_PATH_PREFIXES)
_END = r"""[/?#\s"'<>]|$"""
_SECRET_SEGMENT = re.compile(
    rf"""(?P<prefix>/(?:{_PREFIX}))[^/?#\s"'<>]+?(?=\.ics(?:{_END})|{_END})""", re.IGNORECASE
)


def redact_secrets(text: str) -> str:
    """Replace the token of every secret URL path in the text by "[redacted]"."""
    return _SECRET_SEGMENT.sub(rf"\g<prefix>{REDACTED}", text)


class RedactSecrets(logging.Filter):
    """Rewrite each record as its redacted, formatted message (exception text included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_secrets(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters use a record's exc_text when it is set: give them the redacted one.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_secrets(record.stack_info)
        return True


class RedactingGunicornLogger(GunicornLogger):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's logger, with its access and error logs redacted (config/gunicorn.conf.py)."""

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's logging up, then redact everything its two loggers write."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactSecrets) for f in log.filters):
                log.addFilter(RedactSecrets())
