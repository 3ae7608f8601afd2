"""Mail that never breaks the action it reports and never slows down the answer.

Two rules, for every mail Latchkey sends (password-reset codes, security notifications):

- **After the response.** A job handed to `after_response` runs once the response has been
  handed to the server (Django's `request_finished`, fired when the server closes the
  response), in the same thread. So a slow or dead mail server never delays an answer, and
  work that differs between two requests (an address that exists and one that does not)
  cannot show in their response times. Outside a request (a management command, a shell,
  a test calling a service) the job runs at once.
- **Failures are logged, not raised.** A job that fails is logged with its name and the
  exception's class only: an SMTP error can quote the recipient, the server's banner or the
  message, and a message may hold a reset code.

`send_after_commit` combines both with the transaction: a mail about a change goes only if
the change committed (a rolled-back revoke reports nothing).
"""

import logging
import threading
from collections.abc import Callable

from django.core.mail import EmailMessage
from django.core.signals import request_finished, request_started
from django.db import transaction

logger = logging.getLogger("latchkey.mail")

Job = Callable[[], None]

_local = threading.local()


def _run(jobs: list[tuple[str, Job]]) -> None:
    for name, job in jobs:
        try:
            job()
        except Exception as exc:  # a mail must never break the request
            logger.warning("deferred job %s failed: %s", name, exc.__class__.__name__)


def _started(**kwargs: object) -> None:
    # Jobs left by a request whose response was never closed run now rather than never.
    leftover = getattr(_local, "jobs", None)
    _local.jobs = []
    if leftover:
        _run(leftover)


def _finished(**kwargs: object) -> None:
    jobs = getattr(_local, "jobs", None)
    _local.jobs = None
    if jobs:
        _run(jobs)


request_started.connect(_started, dispatch_uid="latchkey.mail.started")
request_finished.connect(_finished, dispatch_uid="latchkey.mail.finished")


def in_request() -> bool:
    """Return whether a request is being answered in this thread (jobs then wait for it)."""
    return getattr(_local, "jobs", None) is not None


def after_response(name: str, job: Job) -> None:
    """Run job once this thread's response is sent, or now outside a request."""
    if in_request():
        _local.jobs.append((name, job))
    else:
        _run([(name, job)])


def send(message: EmailMessage) -> bool:
    """Send one message now; return whether the mail server took it (failures logged)."""
    try:
        return message.send() == 1
    except Exception as exc:  # SMTP, DNS, TLS, timeouts: all logged alike
        logger.warning("mail not sent: %s", exc.__class__.__name__)
        return False


def send_after_commit(
    name: str, message: EmailMessage, then: Callable[[bool], None] | None = None
) -> None:
    """Send message after the current transaction commits and the response is out.

    `then(sent)` runs after the attempt (to record it); its own failure is logged too.
    """

    def job() -> None:
        sent = send(message)
        if then is not None:
            then(sent)

    transaction.on_commit(lambda: after_response(name, job))
