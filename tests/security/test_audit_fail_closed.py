"""Fail closed (SECURITY.md H5): when the audit entry cannot be written, the change it
records is not made either."""

import pytest
from django.db import DatabaseError, connection

from accounts.models import Operator, Principal
from security import authkeys, credentials, roles, support, users
from security.models import AuditEntry, AuthKey, CredentialSet

pytestmark = pytest.mark.django_db

DOC = '{"statements":[{"effect":"allow","api":"User:listUsers"}]}'


@pytest.fixture
def broken_audit(monkeypatch):
    def refuse(*args, **kwargs):
        raise DatabaseError("INSERT on security_auditentry refused")

    def arm():
        monkeypatch.setattr(AuditEntry, "save", refuse)

    return arm


def test_it_creates_no_user(root, broken_audit):
    broken_audit()
    with pytest.raises(DatabaseError):
        users.create_user(None, root, "ghost")
    assert not Principal.objects.filter(user_name="ghost").exists()


def test_it_generates_no_authkey(root, alice, broken_audit):
    broken_audit()
    with pytest.raises(DatabaseError):
        authkeys.generate(None, root, alice)
    assert not AuthKey.objects.filter(principal=alice).exists()


def test_it_revokes_no_authkey(root, alice, broken_audit):
    key, _ = authkeys.generate(None, root, alice)
    broken_audit()
    with pytest.raises(DatabaseError):
        authkeys.revoke(None, root, key, reason="test")
    key.refresh_from_db()
    assert key.is_live


def test_it_changes_no_permission(root, alice, broken_audit):
    broken_audit()
    with pytest.raises(DatabaseError):
        roles.set_inline_permission(None, root, alice, DOC)
    alice.refresh_from_db()
    assert alice.inline_permission == ""


def test_it_stores_no_credential_set(root, broken_audit):
    broken_audit()
    with pytest.raises(DatabaseError):
        credentials.create_credential_set(
            None, root, "psk-1", "psk", "", {"key": "canary-Psk-Value-123"}
        )
    assert not CredentialSet.objects.exists()


def test_it_opens_no_support_access(root, operator, broken_audit):
    broken_audit()
    with pytest.raises(DatabaseError):
        support.grant(None, root, 1)
    assert Operator.objects.get(pk=operator.pk).support_access_until is None


def test_it_lets_no_staff_revocation_through(root, alice, broken_audit):
    staff = Principal.objects.create_staff(
        "helpdesk", "staff-Password-4321", Principal.StaffRole.SUPPORT
    )
    key, _ = authkeys.generate(None, root, alice)
    broken_audit()
    with pytest.raises(DatabaseError):
        support.revoke_key(None, staff, key, "leaked")
    key.refresh_from_db()
    assert key.is_live


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)")
def test_it_creates_no_user_when_the_database_refuses_the_entry(root):
    # The database itself refuses audit inserts, as a revoked INSERT grant would.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'audit insert refused'; END; $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON security_auditentry "
            "FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse()"
        )
    with pytest.raises(DatabaseError):
        users.create_user(None, root, "ghost")
    assert not Principal.objects.filter(user_name="ghost").exists()


@pytest.mark.parametrize("via", ["authkey", "password"])
def test_it_opens_no_api_session(root, broken_audit, via):
    from django.test import Client

    from accounts.models import ApiSession
    from tests.conftest import ROOT_PASSWORD

    key, secret = authkeys.generate(None, root, root)
    body = (
        {"authKeyId": key.key_id, "authKey": secret}
        if via == "authkey"
        else {"email": root.email, "password": ROOT_PASSWORD}
    )
    broken_audit()
    response = Client(raise_request_exception=False).post(
        "/v1/auth", body, content_type="application/json"
    )
    assert response.status_code == 500
    assert not ApiSession.objects.exists()
