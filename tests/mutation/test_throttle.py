"""The throttle windows and buckets (accounts/throttle.py) at their edges: what
`make mutate` found that the flow tests in tests/accounts/test_throttles.py leave open.
The clock goes through `throttle._now`, pinned to a chosen second of a 900 s window."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts import throttle
from accounts.models import Throttle

WINDOW = 900
A = throttle.Bucket("mutation:a", 3)
B = throttle.Bucket("mutation:b", 2)


@pytest.fixture
def clock(monkeypatch, settings) -> list[datetime]:
    """The throttle clock, at second 100 of a window; tests move it through `clock[0]`."""
    settings.LATCHKEY_THROTTLE_WINDOW = WINDOW
    start = int(datetime.now(UTC).timestamp()) // WINDOW * WINDOW + 100
    moment = [datetime.fromtimestamp(start, UTC)]
    monkeypatch.setattr(throttle, "_now", lambda: moment[0])
    return moment


def _fail(bucket: throttle.Bucket, times: int) -> None:
    for _ in range(times):
        throttle.record_failure([bucket])


def test_it_blocks_nothing_without_buckets(db, clock):
    assert throttle.blocking([]) == (0, "")
    assert throttle.retry_after([]) == 0


def test_it_opens_a_bucket_one_failure_below_its_limit(db, clock):
    _fail(A, 2)
    assert throttle.failures(A) == 2
    assert throttle.blocking([A]) == (0, "")


def test_it_blocks_a_full_bucket_until_the_window_ends(db, clock):
    _fail(A, 3)
    assert throttle.blocking([A]) == (WINDOW - 100, "mutation:a")
    assert throttle.retry_after([A]) == WINDOW - 100


def test_it_names_the_full_bucket_behind_an_open_one(db, clock):
    _fail(A, 1)
    _fail(B, 2)
    assert throttle.blocking([A, B]) == (WINDOW - 100, "mutation:b")


def test_it_waits_one_second_in_the_last_second_of_a_window(db, clock):
    clock[0] += timedelta(seconds=WINDOW - 101)  # second 899 of the window
    _fail(A, 3)
    assert throttle.blocking([A]) == (1, "mutation:a")


def test_it_waits_a_whole_window_from_its_first_second(db, clock):
    clock[0] += timedelta(seconds=WINDOW - 100)  # second 0 of the next window
    _fail(A, 3)
    assert throttle.blocking([A]) == (WINDOW, "mutation:a")


def test_it_forgets_the_failures_of_an_ended_window(db, clock):
    _fail(A, 3)
    clock[0] += timedelta(seconds=WINDOW)
    assert throttle.failures(A) == 0
    assert throttle.blocking([A]) == (0, "")


def test_it_tells_the_bounds_of_the_current_window(db, clock):
    start = clock[0] - timedelta(seconds=100)
    assert throttle.window_bounds() == (start, start + timedelta(seconds=WINDOW))


def test_it_counts_zero_failures_in_a_fresh_bucket(db, clock):
    assert throttle.failures(A) == 0


def test_it_keeps_a_failure_for_one_window_and_then_prunes_it(db, clock):
    _fail(A, 1)
    row = Throttle.objects.get()
    assert row.count == 1
    assert row.expires_at == clock[0] + timedelta(seconds=WINDOW)
    clock[0] += timedelta(seconds=WINDOW)  # the row expires exactly now: still kept
    _fail(B, 1)
    assert Throttle.objects.count() == 2
    clock[0] += timedelta(seconds=1)  # now past its end: pruned by the next failure
    _fail(B, 1)
    assert list(Throttle.objects.values_list("count", flat=True)) == [2]
    assert throttle.failures(B) == 2


def test_it_counts_every_bucket_of_one_failure(db, clock):
    throttle.record_failure([A, B])
    assert (throttle.failures(A), throttle.failures(B)) == (1, 1)


def test_it_clears_only_the_bucket_it_names(db, clock):
    _fail(A, 2)
    _fail(B, 1)
    throttle.clear(A)
    assert (throttle.failures(A), throttle.failures(B)) == (0, 1)
