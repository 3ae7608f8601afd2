"""`check --deploy` fails while a credential set needs a master key that is not configured."""

import pytest
from django.core.checks import Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import OperationalError, connection

from security import credential_checks, credential_rotation, credentials
from tests.security.test_crypto import key_entry


@pytest.fixture
def retired_key(root, settings):
    """Three sets sealed under test1, then test1 removed from LATCHKEY_MASTER_KEYS."""
    for i in range(3):
        credentials.create_credential_set(None, root, f"s{i}", "psk", "", {"key": f"psk-{i:06d}"})
    settings.LATCHKEY_MASTER_KEYS = key_entry("k2")


def test_it_fails_check_deploy_naming_the_missing_key(retired_key):
    with pytest.raises(SystemCheckError) as info:
        call_command("check", "--deploy")
    assert "latchkey_credentials.E001" in str(info.value)
    assert "test1 (3 records)" in str(info.value)


def test_it_reports_one_error_with_a_hint(retired_key):
    [problem] = credential_checks.check_master_keys_cover_records()
    assert isinstance(problem, Error)
    assert "rotate_master_key" in problem.hint


def test_it_passes_when_every_needed_key_is_configured(root, settings):
    credentials.create_credential_set(None, root, "s", "psk", "", {"key": "psk-000001"})
    settings.LATCHKEY_MASTER_KEYS = key_entry("k2") + "," + settings.LATCHKEY_MASTER_KEYS
    assert credential_checks.check_master_keys_cover_records() == []


def test_it_passes_on_a_database_not_migrated_yet(db, monkeypatch):
    monkeypatch.setattr(connection.introspection, "table_names", lambda *a, **k: [])
    assert credential_checks.check_master_keys_cover_records() == []


def test_it_warns_when_the_database_does_not_answer(db, monkeypatch):
    def unreachable():
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(credential_rotation, "missing_master_keys", unreachable)
    [problem] = credential_checks.check_master_keys_cover_records()
    assert isinstance(problem, Warning)
    assert problem.id == "latchkey_credentials.W001"
    assert "could not connect" not in problem.msg  # the error class only, no server detail
