"""Logging filters: what must never reach a log line, whatever LOG_LEVEL says.

Django's template engine logs every failed variable lookup at DEBUG with the exception
attached, and that exception's text is the whole template context: on the page that shows a
new AuthKey once, the secret itself. An operator who turns Django's logging up to DEBUG to
chase a problem must not find secrets in the logs, so the traceback is dropped and only the
message (which variable, which template) is kept.

Beyond that one logger, every record of the process has its bearer material (AuthKey
secrets, API keys, tokens: console/secretscan.py) redacted when it is made (`install`).
"""

import logging
import traceback
from collections.abc import Callable

from console import secretscan


class NoTemplateContext(logging.Filter):
    """Strip the exception (and with it the template context) from django.template records."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def _redact(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed record: logging reports it when it is emitted
        return
    clean = secretscan.redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if secretscan.contains_secret(text):
            # The traceback is kept as text, redacted; the live exception object (which a
            # handler could render again, secret and all) is dropped.
            record.exc_text, record.exc_info = secretscan.redact(text), None


def redacting(base: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """Return a LogRecord factory that takes bearer material out of every record it makes.

    A secret reaches a log line through text nobody chose to log: a request path
    (`django.request` logs "Not Found: <path>"), an exception's message, a database error
    quoting a value. Redacting where records are made covers every logger and every handler
    (a handler-level filter would miss handlers added later, such as a test's capture).
    Only records of an enabled level are made, so the cost is a linear scan per line logged.
    """

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = base(*args, **kwargs)
        _redact(record)
        return record

    factory.latchkey_redacting = True  # type: ignore[attr-defined]
    return factory


def install() -> None:
    """Make every log record of this process go through `redacting` (once)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "latchkey_redacting", False):
        logging.setLogRecordFactory(redacting(current))
