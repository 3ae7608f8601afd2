"""Logging filters: what must never reach a log line, whatever LOG_LEVEL says.

Django's template engine logs every failed variable lookup at DEBUG with the exception
attached, and that exception's text is the whole template context: on the page that shows a
new AuthKey once, the secret itself. An operator who turns Django's logging up to DEBUG to
chase a problem must not find secrets in the logs, so the traceback is dropped and only the
message (which variable, which template) is kept.
"""

import logging


class NoTemplateContext(logging.Filter):
    """Strip the exception (and with it the template context) from django.template records."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True
