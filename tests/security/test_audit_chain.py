"""The audit trail's hash chain: append-only, chained per operator, verifiable."""

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.test import RequestFactory

from accounts.models import Operator, Principal
from security import audit, users
from security.models import AppendOnly, AuditChainHead, AuditEntry

pytestmark = pytest.mark.django_db

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
)


def _raw(sql: str, params: list) -> None:
    """Change rows behind the application's back, as someone with database access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A database superuser can switch triggers off; the append-only guard with them.
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def _three(operator: Operator, root: Principal) -> list[AuditEntry]:
    return [
        audit.record(None, "User:createUser", operator=operator, principal=root, target=name)
        for name in ("a", "b", "c")
    ]


def test_it_numbers_entries_of_one_operator_from_one(operator, root):
    entries = _three(operator, root)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert {e.chain for e in entries} == {operator.pk}


def test_it_links_each_entry_to_the_previous_one(operator, root):
    first, second, third = _three(operator, root)
    assert first.prev_hash == ""
    assert second.prev_hash == first.entry_hash
    assert third.prev_hash == second.entry_hash


def test_it_keeps_one_chain_per_operator(operator, root, outsider):
    audit.record(None, "User:createUser", operator=operator, principal=root, target="a")
    other = audit.record(None, "User:createUser", operator=outsider.operator, principal=outsider)
    assert other.seq == 1
    assert other.chain == outsider.operator_id


def test_it_chains_installation_entries_without_an_operator(db):
    first = audit.record(None, "Auth:auth", operator=None, outcome="failed")
    second = audit.record(None, "Auth:auth", operator=None, outcome="failed")
    assert (first.chain, first.seq, second.seq) == ("", 1, 2)
    assert second.prev_hash == first.entry_hash


def test_it_moves_the_chain_head_with_each_entry(operator, root):
    *_, last = _three(operator, root)
    head = AuditChainHead.objects.get(pk=operator.pk)
    assert (head.seq, head.last_hash) == (3, last.entry_hash)


def test_it_verifies_an_untouched_chain(operator, root):
    _three(operator, root)
    assert audit.verify_chain(operator.pk) == (3, None)


def test_it_detects_an_edited_entry(operator, root):
    _, second, _ = _three(operator, root)
    _raw("UPDATE security_auditentry SET target = %s WHERE id = %s", ["zzz", second.pk])
    _, broken = audit.verify_chain(operator.pk)
    assert broken.entry.pk == second.pk
    assert "contents" in broken.reason


def test_it_detects_an_edited_outcome(operator, root):
    entry = audit.record(None, "User:deleteUser", operator=operator, principal=root, target="x")
    _raw("UPDATE security_auditentry SET outcome = %s WHERE id = %s", ["denied", entry.pk])
    assert audit.verify_chain(operator.pk)[1].entry.pk == entry.pk


def test_it_detects_a_deleted_entry(operator, root):
    _, second, third = _three(operator, root)
    _raw("DELETE FROM security_auditentry WHERE id = %s", [second.pk])
    checked, broken = audit.verify_chain(operator.pk)
    assert checked == 1
    assert broken.entry.pk == third.pk
    assert "missing" in broken.reason


def test_it_detects_a_deleted_newest_entry(operator, root):
    *_, third = _three(operator, root)
    _raw("DELETE FROM security_auditentry WHERE id = %s", [third.pk])
    checked, broken = audit.verify_chain(operator.pk)
    assert checked == 2
    assert "newest entries are missing" in broken.reason


def test_it_detects_reordered_entries(operator, root):
    first, second, _ = _three(operator, root)
    _raw("UPDATE security_auditentry SET seq = 100 WHERE id = %s", [first.pk])
    _raw("UPDATE security_auditentry SET seq = %s WHERE id = %s", [1, second.pk])
    _raw("UPDATE security_auditentry SET seq = %s WHERE id = %s", [2, first.pk])
    checked, broken = audit.verify_chain(operator.pk)
    assert checked == 0
    assert broken.entry.pk == second.pk


def test_it_detects_reordered_timestamps(operator, root):
    first, second, _ = _three(operator, root)
    _raw("UPDATE security_auditentry SET at = %s WHERE id = %s", [second.at, first.pk])
    _raw("UPDATE security_auditentry SET at = %s WHERE id = %s", [first.at, second.pk])
    assert audit.verify_chain(operator.pk)[1].entry.pk == first.pk


def test_it_detects_an_entry_moved_to_another_operator(operator, root, outsider):
    entry = audit.record(None, "User:createUser", operator=operator, principal=root)
    _raw(
        "UPDATE security_auditentry SET operator_id = %s WHERE id = %s",
        [outsider.operator_id, entry.pk],
    )
    assert audit.verify_chain(operator.pk)[1].entry.pk == entry.pk


def test_it_refuses_to_update_an_entry_through_the_orm(operator, root):
    entry = audit.record(None, "User:createUser", operator=operator, principal=root)
    entry.target = "changed"
    with pytest.raises(AppendOnly):
        entry.save()


def test_it_refuses_queryset_updates_and_deletes(operator, root):
    audit.record(None, "User:createUser", operator=operator, principal=root)
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(operator=operator).update(target="x")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(operator=operator).delete()


def test_it_refuses_to_delete_an_entry(operator, root):
    entry = audit.record(None, "User:createUser", operator=operator, principal=root)
    with pytest.raises(AppendOnly):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@on_postgres
def test_it_has_postgresql_refuse_a_raw_update(operator, root):
    from django.db import DatabaseError, transaction

    entry = audit.record(None, "User:createUser", operator=operator, principal=root)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE security_auditentry SET target = 'x' WHERE id = %s", [entry.pk])


@on_postgres
def test_it_has_postgresql_refuse_a_raw_delete(operator, root):
    from django.db import DatabaseError, transaction

    entry = audit.record(None, "User:createUser", operator=operator, principal=root)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM security_auditentry WHERE id = %s", [entry.pk])


def test_it_stores_hostile_values_and_still_verifies(operator, root):
    hostile = 'evil\r\nFAKE allowed\x1b[31mred\x1b[0m","outcome":"allowed"} \x00 \ud800'
    request = RequestFactory().get("/", HTTP_USER_AGENT=hostile)
    entry = audit.record(
        request, "User:createUser", operator=operator, principal=root, target=hostile
    )
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert "\r\n" in entry.target and "\x1b[31m" in entry.target
    assert "\x00" not in entry.target and "\\u0000" in entry.target
    assert "\\ud800" in entry.target
    assert "\r\n" in entry.user_agent
    assert audit.verify_chain(operator.pk) == (1, None)


def test_it_fails_the_change_when_the_audit_write_fails(operator, root, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(AuditEntry, "save", broken)
    with pytest.raises(RuntimeError):
        users.create_user(None, root, "ghost")
    assert not Principal.objects.filter(user_name="ghost").exists()


def test_it_names_the_first_broken_entry_from_the_command(operator, root):
    _, second, _ = _three(operator, root)
    _raw("UPDATE security_auditentry SET action = %s WHERE id = %s", ["X:y", second.pk])
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", "--operator", operator.pk, stdout=StringIO(), stderr=err)
    assert f"id={second.pk} seq=2" in err.getvalue()


def test_it_reports_success_from_the_command(operator, root, outsider):
    _three(operator, root)
    audit.record(None, "Auth:auth", operator=None, outcome="failed")
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "All 2 chain(s) verified, 4 entries." in out.getvalue()


# SQLite serializes writers by its database lock (IMMEDIATE transactions), but the test
# database is an in-memory shared cache that answers "table is locked" instead of waiting.
@on_postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_forks_a_chain_under_concurrent_writers():
    operator = Operator.create()
    root = Principal.objects.create_root(operator, "conc@example.com", "x-Password-123456")
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def write(n: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                audit.record(
                    None, "User:updateUser", operator=operator, principal=root, target=f"{n}-{i}"
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = sorted(AuditEntry.objects.filter(chain=operator.pk).values_list("seq", flat=True))
    assert seqs == list(range(1, 81))
    assert audit.verify_chain(operator.pk) == (80, None)


def test_it_verifies_old_entries_after_a_pepper_rotation(operator, root, settings):
    _three(operator, root)
    old = settings.LATCHKEY_PEPPER
    settings.LATCHKEY_PEPPER = "rotated-pepper-" + "x" * 40
    settings.LATCHKEY_PEPPER_FALLBACKS = [old]
    audit.record(None, "User:createUser", operator=operator, principal=root, target="d")
    assert audit.verify_chain(operator.pk) == (4, None)


def test_it_fails_old_entries_once_their_pepper_is_dropped(operator, root, settings):
    first, *_ = _three(operator, root)
    settings.LATCHKEY_PEPPER = "rotated-pepper-" + "x" * 40
    settings.LATCHKEY_PEPPER_FALLBACKS = []
    assert audit.verify_chain(operator.pk)[1].entry.pk == first.pk


def test_it_redacts_a_real_authkey_secret_from_any_field(operator, root):
    from security import authkeys

    secret = authkeys.new_secret()
    lookalike = "secret-" + "A" * 64  # wrong checksum: not a secret, kept as it is
    request = RequestFactory().get("/", HTTP_USER_AGENT=f"curl {secret}")
    entry = audit.record(
        request,
        "User:createUser",
        operator=operator,
        principal=root,
        target=lookalike,
        details={"reason": f"leaked {secret}"},
    )
    entry = AuditEntry.objects.get(pk=entry.pk)
    assert secret not in entry.user_agent + entry.details["reason"]
    assert audit.REDACTED in entry.user_agent
    assert entry.target == lookalike
