"""An attempt is counted before it is verified (accounts/throttle.py `reserve`), so that
attempts made at once cannot all pass a bucket that has room for one more: checking first
and counting the failure afterwards let N simultaneous guesses at a password or a 6-digit
code all be verified. A success gives its attempt back."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections
from django.test import RequestFactory

from accounts import signin, throttle
from tests.conftest import ROOT_PASSWORD

pytestmark = pytest.mark.django_db
WINDOW = 900


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    start = int(datetime.now(UTC).timestamp()) // WINDOW * WINDOW + 100
    monkeypatch.setattr(throttle, "_now", lambda: datetime.fromtimestamp(start, UTC))


def test_reserve_counts_the_attempt_in_every_bucket():
    buckets = [throttle.Bucket("a", 3), throttle.Bucket("b", 3)]
    wait, full, slots = throttle.reserve(buckets)
    assert (wait, full, len(slots)) == (0, "", 2)
    assert [throttle.failures(b) for b in buckets] == [1, 1]


def test_reserve_refuses_a_full_bucket_and_counts_nothing_anywhere():
    roomy, full = throttle.Bucket("roomy", 5), throttle.Bucket("full", 1)
    throttle.reserve([full])
    wait, key, slots = throttle.reserve([roomy, full])
    assert 0 < wait <= WINDOW
    assert (key, slots) == ("full", [])
    assert [throttle.failures(roomy), throttle.failures(full)] == [0, 1]


def test_reserve_lets_exactly_the_limit_through_one_by_one():
    bucket = throttle.Bucket("k", 3)
    answers = [throttle.reserve([bucket])[0] for _ in range(5)]
    assert [a == 0 for a in answers] == [True, True, True, False, False]
    assert throttle.failures(bucket) == 3


def test_refund_gives_one_attempt_back_and_never_goes_below_zero():
    bucket = throttle.Bucket("k", 3)
    throttle.reserve([bucket])
    _, _, slots = throttle.reserve([bucket])
    throttle.refund(slots)
    assert throttle.failures(bucket) == 1
    throttle.refund(slots)
    throttle.refund(slots)
    assert throttle.failures(bucket) == 0


def test_a_refund_after_the_window_turned_gives_back_to_the_window_it_took_from(monkeypatch):
    bucket = throttle.Bucket("k", 5)
    throttle.reserve([bucket])  # a failure of this window
    _, _, slots = throttle.reserve([bucket])  # a slow success begins here
    later = throttle._now() + timedelta(seconds=WINDOW)
    monkeypatch.setattr(throttle, "_now", lambda: later)
    throttle.reserve([bucket])  # a failure of the next window
    throttle.refund(slots)  # the slow success ends
    assert throttle.failures(bucket) == 1  # the next window keeps its failure


def test_a_right_password_does_not_count_as_an_attempt(root):
    request = RequestFactory().post("/login/", REMOTE_ADDR="203.0.113.9")
    result = signin.sign_in(request, password="wrong-Pass-0000", email=root.email)
    assert result.principal is None
    assert signin.sign_in(request, password=ROOT_PASSWORD, email=root.email).principal == root
    ip_bucket = signin._buckets(signin.account_key(email=root.email), "203.0.113.9", False)[0]
    assert throttle.failures(ip_bucket) == 1  # the wrong one only


def test_a_wrong_password_counts_once(root):
    request = RequestFactory().post("/login/", REMOTE_ADDR="203.0.113.9")
    signin.sign_in(request, password="wrong-Pass-0000", email=root.email)
    buckets = signin._buckets(signin.account_key(email=root.email), "203.0.113.9", False)
    assert [throttle.failures(b) for b in buckets] == [1, 1, 1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_simultaneous_guesses_never_verify_more_than_the_limit(settings, root):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    guesses = 12
    verified: list[int] = []
    barrier = threading.Barrier(guesses)

    def check() -> bool:
        verified.append(1)
        return False

    def guess() -> None:
        try:
            request = RequestFactory().post("/login/verify", REMOTE_ADDR="203.0.113.50")
            barrier.wait()
            signin.second_step(request, signin.account_key(email=root.email), check)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess) for _ in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(verified) == 3
    bucket = signin._buckets(signin.account_key(email=root.email), "203.0.113.50", False)[1]
    assert throttle.failures(bucket) == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_attempts_racing_to_open_a_window_are_all_counted_below_the_limit():
    bucket = throttle.Bucket("fresh", 100)
    attempts = 12
    answers: list[int] = []
    barrier = threading.Barrier(attempts)

    def attempt() -> None:
        try:
            barrier.wait()
            answers.append(throttle.reserve([bucket])[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [0] * attempts  # none refused: the bucket has room for 100
    assert throttle.failures(bucket) == attempts
