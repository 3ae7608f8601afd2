"""Benchmark credential-set encryption and master-key rotation. Not a test: it prints figures.

One run, with production settings and throwaway keys on a fresh database (a temporary
SQLite file, or the PostgreSQL server of BENCH_DATABASE_URL in a database of its own):
1. seal + open of one record in-process (AES-256-GCM, fresh data key and nonce each time);
2. `create_credential_set` end to end (validation, sealing, quota lock, audit entry);
3. `manage.py rotate_master_key` over BENCH_ROWS records (default 10,000) after a new
   master key is put in front: seconds in all and per 10k rows (SECURITY.md figure M15).

Usage: `.venv/bin/python bench/credentials.py` (BENCH_ROWS=2000 for a quicker run).
"""

import base64
import os
import secrets
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ROWS = int(os.environ.get("BENCH_ROWS", "10000"))


def _key(key_id: str) -> str:
    return f"{key_id}:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _configure() -> tuple[str, str | None]:
    """Set the environment for production settings; return (database URL, PG db to drop)."""
    pg = os.environ.get("BENCH_DATABASE_URL")
    drop = None
    if pg:
        drop = f"bench_creds_{os.getpid()}"
        url = urlunsplit(urlsplit(pg)._replace(path="/" + drop))
    else:
        url = "sqlite:///" + str(Path(tempfile.mkdtemp()) / "bench.sqlite3")
    os.environ.update(
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="console.settings",
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_urlsafe(50),
        LATCHKEY_PEPPER=secrets.token_urlsafe(32),
        LATCHKEY_JWT_KEYS="bench:" + secrets.token_urlsafe(32),
        LATCHKEY_MASTER_KEYS=_key("old"),
        ALLOWED_HOSTS="localhost",
        LOG_LEVEL="WARNING",
        LATCHKEY_CREDENTIAL_WRITES_PER_HOUR="1000000",  # one principal writes on purpose
    )
    return pg or url, drop


def _timed(label: str, count: int, fn) -> float:
    start = time.perf_counter()
    for i in range(count):
        fn(i)
    seconds = time.perf_counter() - start
    print(f"{label:<44} {count:>7} in {seconds:7.2f} s  {count / seconds:10.0f}/s")
    return seconds


def main() -> None:
    server_url, drop = _configure()
    if drop:
        import psycopg

        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{drop}"')
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from accounts.models import Operator, Principal
    from security import credential_sealing, credentials, crypto
    from security.credential_schemas import CleanFields
    from security.models import CredentialSet

    try:
        call_command("migrate", verbosity=0)
        print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        aad = crypto.record_aad("OP0000000001", "bench", "psk")
        payload = b'{"key":"' + b"k" * 64 + b'"}'
        _timed("seal (fresh data key + wrap)", 20000, lambda i: crypto.seal(payload, aad))
        sealed = crypto.seal(payload, aad)
        _timed("open (unwrap + decrypt)", 20000, lambda i: crypto.open_sealed(sealed, aad))

        operator = Operator.create()
        operator.credential_quota = ROWS + 1000
        operator.save()
        root = Principal.objects.create_root(operator, "bench@example.com", None)
        _timed(
            "create_credential_set (end to end)",
            500,
            lambda i: credentials.create_credential_set(
                None, root, f"e2e-{i}", "psk", "", {"key": f"bench-key-{i:06d}"}
            ),
        )
        # The rotation set is written in bulk: only the re-wrap is being measured.
        batch = []
        for i in range(ROWS):
            cs = CredentialSet(operator=operator, credentials_id=f"rot-{i}", type="psk")
            credential_sealing.seal_into(cs, CleanFields({"key": f"rotation-key-{i:06d}"}))
            batch.append(cs)
        CredentialSet.objects.bulk_create(batch, batch_size=1000)
        total = CredentialSet.objects.count()
        settings.LATCHKEY_MASTER_KEYS = _key("new") + "," + settings.LATCHKEY_MASTER_KEYS
        start = time.perf_counter()
        call_command("rotate_master_key", stdout=StringIO())
        seconds = time.perf_counter() - start
        left = CredentialSet.objects.exclude(master_key_id="new").count()
        print(
            f"rotate_master_key: {total} records in {seconds:.2f} s "
            f"({seconds * 10000 / total:.2f} s per 10k), {left} left on the old key"
        )
        sample = credentials.use_credential_set(operator, f"rot-{ROWS - 1}")
        assert sample == {"key": f"rotation-key-{ROWS - 1:06d}"}
    finally:
        if drop:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{drop}"')


if __name__ == "__main__":
    main()
