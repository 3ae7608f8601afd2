"""No secret reaches a log line, whoever logs it (console/logfilters.py, docs/security.md)."""

import logging

import pytest

from console import logfilters
from security import authkeys

log = logging.getLogger("latchkey.test")


@pytest.fixture
def secret(root) -> str:
    return authkeys.generate(None, root, root)[1]


def test_it_redacts_a_secret_in_a_path_that_django_logs(root_client, secret, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert root_client.get(f"/security/users/{secret}/").status_code == 404
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Not Found" in logged
    assert secret not in logged
    assert "secret-[REDACTED]" in logged


def test_it_redacts_a_secret_in_a_logged_message_and_its_arguments(secret, caplog):
    with caplog.at_level(logging.INFO, logger="latchkey.test"):
        log.info("exchanged %s for a session", secret)
    (record,) = caplog.records
    assert record.getMessage() == "exchanged secret-[REDACTED] for a session"
    assert secret not in caplog.text


def test_it_redacts_a_secret_in_a_logged_exception(secret, caplog):
    with caplog.at_level(logging.ERROR, logger="latchkey.test"):
        try:
            raise ValueError(f"bad value {secret}")
        except ValueError:
            log.exception("it failed")
    (record,) = caplog.records
    assert record.exc_info is None
    assert "ValueError: bad value secret-[REDACTED]" in record.exc_text
    assert secret not in caplog.text


def test_it_keeps_a_record_without_secrets_as_it_was_made(caplog):
    with caplog.at_level(logging.INFO, logger="latchkey.test"):
        log.info("user %s signed in from %s", "alice", "192.0.2.1")
    (record,) = caplog.records
    assert (record.msg, record.args) == ("user %s signed in from %s", ("alice", "192.0.2.1"))


def test_it_installs_the_redacting_factory_once():
    assert getattr(logging.getLogRecordFactory(), "latchkey_redacting", False)
    before = logging.getLogRecordFactory()
    logfilters.install()
    assert logging.getLogRecordFactory() is before
