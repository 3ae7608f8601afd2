"""Count the SQL statements a block of code makes the database run, prepared ones included.

Django's query capture (CaptureQueriesContext, django_assert_num_queries) sees only what
goes through Django's cursor. The authenticated hot path (console/hotsql.py) runs its
queries through a raw psycopg cursor as server-side prepared statements on PostgreSQL, so
Django sees none of them there. On PostgreSQL this counter therefore also asks the database:
`pg_prepared_statements` lists the statements prepared on this connection with how many
times each ran (generic_plans + custom_plans: one of the two per execution), and the
difference before and after the block is what ran prepared. Django's own queries are never
prepared (it connects with a prepare_threshold that no query reaches, checked below).

A statement that bypasses Django's cursor without being prepared would be invisible to
both, so every execution on the connection's psycopg cursors is also recorded, and the
counter refuses a block whose executions are not all accounted for by the two counts.
On SQLite every statement goes through Django's cursor and the capture is complete.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext

_PREPARED = (
    "SELECT name, statement, generic_plans + custom_plans FROM pg_prepared_statements "
    "WHERE NOT from_sql"
)


@dataclass
class Counted:
    """What ran: statements through Django's cursor, and prepared ones the database ran."""

    django: list[str] = field(default_factory=list)
    prepared: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.django) + len(self.prepared)

    @property
    def statements(self) -> list[str]:
        return self.django + self.prepared


def _prepared_runs() -> tuple[int, dict[str, tuple[str, int]]]:
    """Return this connection's backend pid and, per prepared statement, its SQL and runs."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
        cursor.execute(_PREPARED)
        return pid, {name: (sql, runs) for name, sql, runs in cursor.fetchall()}


@contextmanager
def _psycopg_executions() -> Iterator[list[str]]:
    """Record every statement any psycopg cursor of the default connection executes."""
    import psycopg  # only on PostgreSQL

    seen: list[str] = []
    ours = connection.connection
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def recording_execute(cursor, query, params=None, **kwargs):
        if cursor.connection is ours:
            seen.append(str(query))
        return execute(cursor, query, params, **kwargs)

    def recording_executemany(cursor, query, params_seq, **kwargs):
        params_seq = list(params_seq)
        if cursor.connection is ours:
            seen.extend([str(query)] * len(params_seq))
        return executemany(cursor, query, params_seq, **kwargs)

    with (
        mock.patch.object(psycopg.Cursor, "execute", recording_execute),
        mock.patch.object(psycopg.Cursor, "executemany", recording_executemany),
    ):
        yield seen


@contextmanager
def count_statements() -> Iterator[Counted]:
    """Count every statement the block runs on the default connection (see module doc)."""
    counted = Counted()
    if connection.vendor != "postgresql":
        with CaptureQueriesContext(connection) as captured:
            yield counted
        counted.django = [query["sql"] for query in captured.captured_queries]
        return
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    assert threshold is None or threshold > 10**6, "Django's own queries would be prepared"
    pid, before = _prepared_runs()
    with CaptureQueriesContext(connection) as captured, _psycopg_executions() as executed:
        yield counted
    now_pid, after = _prepared_runs()
    assert now_pid == pid, "the connection was replaced: prepared counts restarted"
    counted.django = [query["sql"] for query in captured.captured_queries]
    for name, (sql, runs) in after.items():
        counted.prepared += [sql] * (runs - before.get(name, (sql, 0))[1])
    assert len(executed) == counted.total, (
        "statements ran outside Django's cursor without being prepared: "
        f"{len(executed)} executed, {len(counted.django)} through Django, "
        f"{len(counted.prepared)} prepared"
    )
