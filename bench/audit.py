"""Benchmark the audit trail on PostgreSQL: chained writes, verification, the log's queries.

Not a test: it prints figures. One run creates a throwaway PostgreSQL database
(BENCH_DATABASE_URL's server, default postgres://postgres@127.0.0.1:5432/postgres),
migrates it with production settings and throwaway keys, then measures:
1. audit.record() per second: one operator from 1 thread, one operator from 8 threads
   (writers of one chain queue on its head row), and 8 operators from 8 threads;
2. verify_audit over every entry (entries per second);
3. the Audit log tab's queries on a 100k-entry operator: first page, a filtered page,
   and one API page (milliseconds, median of 20);
then drops the database. Usage: `.venv/bin/python bench/audit.py`.
"""

import os
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
NAME = f"{os.environ.get('BENCH_DB_PREFIX', 'lk_bench')}_audit_{secrets.token_hex(4)}"
WRITES = int(os.environ.get("BENCH_WRITES", "2000"))
BIG = int(os.environ.get("BENCH_BIG", "100000"))


def _database_url(name: str) -> str:
    parts = urlsplit(SERVER)
    return urlunsplit(parts._replace(path="/" + name))


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    _admin(f'CREATE DATABASE "{NAME}"')
    try:
        os.environ["DATABASE_URL"] = _database_url(NAME)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        run()
    finally:
        from django.db import connections

        connections.close_all()
        _admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


def _writes(operators, threads: int, per_thread: int, root_of) -> float:
    from django.db import connections

    from security import audit

    barrier = threading.Barrier(threads)

    def work(n: int) -> None:
        operator = operators[n % len(operators)]
        barrier.wait()
        for i in range(per_thread):
            audit.record(
                None,
                "User:updateUser",
                operator=operator,
                principal=root_of[operator.pk],
                target=f"t{n}-{i}",
            )
        connections.close_all()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return threads * per_thread / (time.perf_counter() - start)


def _median_ms(fn, runs: int = 20) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def run() -> None:
    from django.db import connection

    from accounts.models import Operator, Principal
    from security import audit, auditlog
    from security.models import AuditEntry

    operators = [Operator.create() for _ in range(8)]
    root_of = {
        op.pk: Principal.objects.create_root(op, f"root{n}@bench.example", "bench-Password-1234")
        for n, op in enumerate(operators)
    }
    print(f"PostgreSQL {connection.pg_version}, {os.cpu_count()} CPUs")
    one = _writes(operators[:1], 1, WRITES, root_of)
    print(f"record(): 1 operator, 1 thread   {one:8.0f} entries/s")
    same = _writes(operators[:1], 8, WRITES // 8, root_of)
    print(f"record(): 1 operator, 8 threads  {same:8.0f} entries/s (one chain: serialized)")
    many = _writes(operators, 8, WRITES // 8, root_of)
    print(f"record(): 8 operators, 8 threads {many:8.0f} entries/s")

    total = AuditEntry.objects.count()
    start = time.perf_counter()
    for chain in audit.chains():
        _, broken = audit.verify_chain(chain)
        assert broken is None, broken
    elapsed = time.perf_counter() - start
    print(f"verify_audit: {total} entries in {elapsed:.2f} s ({total / elapsed:.0f} entries/s)")

    big = operators[0]
    head = AuditEntry.objects.filter(chain=big.pk).count()
    root = root_of[big.pk]
    print(f"filling {big.pk} to {BIG} entries ...")
    for i in range(BIG - head):
        audit.record(
            None,
            "User:deleteUser" if i % 50 == 0 else "User:updateUser",
            operator=big,
            principal=root,
            outcome="denied" if i % 100 == 0 else "allowed",
            target=f"u{i}",
        )
    with connection.cursor() as cursor:  # what autovacuum does in a running installation
        cursor.execute("ANALYZE security_auditentry")
    flt = auditlog.AuditFilter(action="User:deleteUser", outcome="denied")
    first = _median_ms(lambda: list(auditlog.entries(big)[:50]))
    filtered = _median_ms(lambda: list(auditlog.entries(big, flt)[:50]))
    count = _median_ms(lambda: auditlog.entries(big, flt).count())
    api = _median_ms(lambda: auditlog.api_page(big.pk, limit=1000))
    print(f"audit tab, first page of {BIG}:       {first:7.1f} ms (median of 20)")
    print(f"audit tab, filtered page:            {filtered:7.1f} ms")
    print(f"audit tab, filtered count:           {count:7.1f} ms")
    print(f"API page, limit=1000:                {api:7.1f} ms")


if __name__ == "__main__":
    main()
