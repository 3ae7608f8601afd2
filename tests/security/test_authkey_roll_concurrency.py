"""A roll's revocation firing while exchanges are in flight (PostgreSQL, real threads).

Exchanges of the old key run in several threads across its scheduled revocation while
another thread runs the cron's sweep: no exchange that starts after the deadline succeeds,
no session made from the key survives, and the tombstone and its audit entry happen once.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import ApiSession
from security import authkeys
from security.models import AuditEntry, AuthKey

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL): real threads"
)

EXCHANGERS = 4
LEAD = timedelta(seconds=1.5)


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_exchange_succeeds_after_a_rolls_deadline_and_it_fires_once(root, settings):
    settings.LATCHKEY_THROTTLE_PER_IP = 100_000  # the storm must not be throttled away
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 100_000
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT = 100_000
    old, secret = authkeys.generate(None, root, root)
    authkeys.roll(None, root, old, delay=LEAD)
    deadline = old.revoke_at
    stop_at = deadline + timedelta(seconds=1)
    results: list[tuple] = []
    tokens: list[dict] = []
    lock = threading.Lock()
    barrier = threading.Barrier(EXCHANGERS + 1)

    def exchanger() -> None:
        try:
            barrier.wait()
            client = Client()
            while timezone.now() < stop_at:
                started = timezone.now()
                response = client.post(
                    "/v1/auth",
                    {"authKeyId": old.key_id, "authKey": secret},
                    content_type="application/json",
                )
                with lock:
                    results.append((started, response.status_code))
                    if response.status_code == 200:
                        tokens.append(response.json())
        finally:
            connection.close()

    def sweeper() -> None:
        try:
            barrier.wait()
            while timezone.now() < stop_at:
                authkeys.lapse_due()
                time.sleep(0.01)
        finally:
            connection.close()

    threads = [threading.Thread(target=exchanger) for _ in range(EXCHANGERS)]
    threads.append(threading.Thread(target=sweeper))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    before = [status for started, status in results if started < deadline]
    after = [status for started, status in results if started >= deadline]
    assert 200 in before, "the exchanges must overlap the deadline"
    assert after and 200 not in after
    old.refresh_from_db()
    assert (old.slot, old.revoke_reason, old.revoked_at) == (None, "rolled", deadline)
    assert not ApiSession.objects.filter(auth_key_id=old.key_id, revoked_at=None).exists()
    # An exchange that passed its check under the lock just before the deadline may commit
    # its session a moment after it: the tombstone waits for that commit and ends it too,
    # and no token handed out by any exchange works now.
    listing = f"/v1/operators/{root.operator_id}/auth_keys"
    for body in tokens:
        headers = {"HTTP_X_SORACOM_API_KEY": body["apiKey"], "HTTP_X_SORACOM_TOKEN": body["token"]}
        assert Client().get(listing, **headers).status_code == 401
    tombstones = AuditEntry.objects.filter(details__authKeyId=old.key_id, details__reason="rolled")
    assert tombstones.count() == 1
    assert AuthKey.objects.filter(principal=root, slot__isnull=False).count() == 1
