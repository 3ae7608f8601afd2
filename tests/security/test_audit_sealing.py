"""Audit entries written freely and sealed after commit (PostgreSQL; security/audit.py).

Real threads with their own connections in transaction=True tests: the point is what
concurrent transactions do, which a TestCase transaction would hide.
"""

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from security import audit, checkpoints
from security.models import AuditEntry

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (DATABASE_URL): on SQLite writers are serialized by the "
        "database and entries are sealed as they are written",
    ),
    pytest.mark.django_db(transaction=True),
]


def _record(operator, action: str) -> AuditEntry:
    return audit.record(None, action, operator=operator)


def test_it_writes_an_entry_while_another_writer_of_the_chain_has_not_committed(operator):
    opened, release = threading.Event(), threading.Event()
    failures: list = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                _record(operator, "Test:slow")
                opened.set()
                release.wait(30)
        except Exception as exc:  # asserted on below
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    try:
        assert opened.wait(30)
        with transaction.atomic():
            with connection.cursor() as cursor:  # a lock wait fails at once instead of queueing
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            fast = _record(operator, "Test:fast")
        fast.refresh_from_db()
        assert fast.seq == 1  # committed and sealed while the slow writer is still open
    finally:
        release.set()
        thread.join(30)
    assert failures == []
    assert audit.verify_chain(operator.pk) == (2, None)


def test_it_seals_an_entry_when_its_transaction_commits(operator):
    with transaction.atomic():
        entry = _record(operator, "Test:one")
        assert AuditEntry.objects.get(pk=entry.pk).seq is None  # not sealed before the commit
    entry.refresh_from_db()
    assert (entry.seq, entry.prev_hash) == (1, "")
    assert entry.entry_hash == audit.entry_digest(entry)


def test_it_seals_the_entries_of_eight_concurrent_writers_into_one_chain(operator):
    barrier = threading.Barrier(8)
    errors: list = []

    def writer(n: int) -> None:
        try:
            barrier.wait(30)
            for i in range(5):
                _record(operator, f"Test:w{n}-{i}")
        except Exception as exc:  # asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    seqs = sorted(AuditEntry.objects.filter(chain=operator.pk).values_list("seq", flat=True))
    assert seqs == list(range(1, 41))  # every entry sealed by the time its writer returned
    assert audit.verify_chain(operator.pk) == (40, None)


def _insert_unsealed_behind_the_application(operator, entry_hash: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO security_auditentry (at, operator_id, actor_kind, actor, action, "
            "target, outcome, source_ip, user_agent, request_id, request_path, details, "
            "user_name, auth_key_id, chain, seq, prev_hash, entry_hash, key_fp) VALUES "
            "(now(), %s, 'root', 'forger', 'User:deleteUser', 'alice', 'allowed', '', '', "
            "'', '', '{}', '', '', %s, NULL, '', %s, %s) RETURNING id",
            [operator.pk, operator.pk, entry_hash, audit.auditkeys.fingerprint(audit.peppers()[0])],
        )
        return cursor.fetchone()[0]


def test_it_never_seals_a_row_inserted_behind_the_application(operator):
    _record(operator, "Test:genuine")
    forged = _insert_unsealed_behind_the_application(operator, "0" * 64)
    _record(operator, "Test:after")
    assert AuditEntry.objects.get(pk=forged).seq is None
    checked, broken = audit.verify_chain(operator.pk)
    assert checked == 2
    assert broken is not None and broken.entry.pk == forged
    assert "content MAC" in broken.reason


def test_it_refuses_to_change_an_unsealed_entrys_content(operator):
    with transaction.atomic():
        entry = _record(operator, "Test:one")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE security_auditentry SET target = 'edited', seq = 1 WHERE id = %s",
                    [entry.pk],
                )


def test_it_refuses_to_reseal_a_sealed_entry(operator):
    entry = _record(operator, "Test:one")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE security_auditentry SET seq = 7, entry_hash = '' WHERE id = %s", [entry.pk]
            )
    entry.refresh_from_db()
    assert entry.seq == 1


def test_it_names_in_a_checkpoint_every_entry_committed_before_it(operator, monkeypatch):
    monkeypatch.setattr(audit, "_seal_after_commit", lambda *args: None)  # the seals are lost
    for n in range(3):
        _record(operator, f"Test:{n}")
    assert not AuditEntry.objects.filter(chain=operator.pk, seq__isnull=False).exists()
    checkpoint = checkpoints.for_chain(operator.pk)
    newest = AuditEntry.objects.get(chain=operator.pk, seq=3)
    assert checkpoint["chains"] == [{"chain": operator.pk, "seq": 3, "headHash": newest.entry_hash}]
