"""console/mail.py: jobs run after the response, failures are logged without their text."""

import logging

import pytest
from django.core.signals import request_finished, request_started

from console import mail

# The request signals also run Django's close_old_connections, which touches the database.
pytestmark = pytest.mark.django_db


def test_it_runs_a_job_at_once_outside_a_request():
    ran = []
    mail.after_response("job", lambda: ran.append(1))
    assert ran == [1]


def test_it_runs_a_job_only_once_the_response_is_closed():
    ran = []
    request_started.send(sender=None)
    mail.after_response("job", lambda: ran.append(1))
    assert ran == []
    request_finished.send(sender=None)
    assert ran == [1]
    assert not mail.in_request()


def test_it_runs_the_jobs_of_a_response_never_closed_at_the_next_request():
    ran = []
    request_started.send(sender=None)
    mail.after_response("job", lambda: ran.append(1))
    request_started.send(sender=None)  # the previous response was never closed
    assert ran == [1]
    request_finished.send(sender=None)
    assert ran == [1]


def test_it_logs_a_failed_job_by_its_class_only_and_runs_the_next(caplog):
    ran = []

    def failing() -> None:
        raise RuntimeError("SMTP said: code qwertyuiop1234567890")

    request_started.send(sender=None)
    mail.after_response("reset mail", failing)
    mail.after_response("next", lambda: ran.append(1))
    with caplog.at_level(logging.DEBUG, logger="latchkey.mail"):
        request_finished.send(sender=None)
    assert ran == [1]
    assert [r.getMessage() for r in caplog.records] == [
        "deferred job reset mail failed: RuntimeError"
    ]
