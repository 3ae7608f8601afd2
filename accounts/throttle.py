"""Failure throttles for sign-in and the token exchange, kept in the database.

Fixed windows per key; the database is the source of truth so that every worker and
every app server sees the same counts. Keys are hashed: they may hold e-mail addresses.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from accounts.models import Throttle
from console import hotsql


@dataclass(frozen=True)
class Bucket:
    key: str
    limit: int


def _now():
    return timezone.now()


def _window() -> int:
    return settings.LATCHKEY_THROTTLE_WINDOW


def _slot(key: str) -> str:
    index = int(_now().timestamp()) // _window()
    return hashlib.sha256(f"{key}|{index}".encode()).hexdigest()


def retry_after(buckets: list[Bucket]) -> int:
    """Return seconds until every bucket is open again, or 0 if none is full.

    Checked before every password or AuthKey exchange: one prepared query (console/hotsql).
    """
    return blocking(buckets)[0]


def check(buckets: list[Bucket]) -> tuple[int, list[int]]:
    """Return (seconds until every bucket is open again or 0, each bucket's failures).

    One prepared query (console/hotsql): the counts tell a caller that succeeded whether
    a bucket has anything to clear.
    """
    if not buckets:
        return 0, []
    slots = [_slot(b.key) for b in buckets]
    marks = ", ".join(["%s"] * len(slots))
    counts = dict(
        hotsql.rows(
            f"SELECT key, count FROM accounts_throttle WHERE key IN ({marks})",  # noqa: S608 (placeholders only)
            slots,
        )
    )
    failures = [counts.get(slot, 0) for slot in slots]
    full = [b for b, n in zip(buckets, failures, strict=True) if n >= b.limit]
    if not full:
        return 0, failures
    window = _window()
    now = int(_now().timestamp())
    return max(1, window - now % window), failures


def blocking(buckets: list[Bucket]) -> tuple[int, str]:
    """Return (seconds until every bucket is open again, key of the first full one), or (0, "")."""
    if not buckets:
        return 0, ""
    limits = {_slot(b.key): b.limit for b in buckets}
    marks = ", ".join(["%s"] * len(limits))
    counts = dict(
        hotsql.rows(
            f"SELECT key, count FROM accounts_throttle WHERE key IN ({marks})",  # noqa: S608 (placeholders only)
            list(limits),
        )
    )
    full = [b for b in buckets if counts.get(_slot(b.key), 0) >= b.limit]
    if not full:
        return 0, ""
    window = _window()
    now = int(_now().timestamp())
    return max(1, window - now % window), full[0].key


def window_bounds() -> tuple[datetime, datetime]:
    """Return the start and end of the current throttle window."""
    window = _window()
    start = int(_now().timestamp()) // window * window
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + window, UTC)


def record_failure(buckets: list[Bucket]) -> None:
    """Count one failure in each bucket (atomic increments; concurrent-safe)."""
    window = _window()
    now = _now()
    for bucket in buckets:
        digest = _slot(bucket.key)
        expires = now + timedelta(seconds=window)
        if Throttle.objects.filter(key=digest).update(count=models.F("count") + 1):
            continue
        try:
            with transaction.atomic():
                Throttle.objects.create(key=digest, count=1, expires_at=expires)
        except IntegrityError:
            Throttle.objects.filter(key=digest).update(count=models.F("count") + 1)
    Throttle.objects.filter(expires_at__lt=now).delete()


def _wait() -> int:
    window = _window()
    return max(1, window - int(_now().timestamp()) % window)


def _take_one(bucket: Bucket, digest: str, expires: datetime) -> bool:
    """Count one attempt in `bucket` unless it is full; return whether it was counted.

    One conditional UPDATE: on PostgreSQL a concurrent UPDATE of the row waits and then
    re-checks `count < limit` on the committed row, so no more than `limit` attempts are
    ever counted in a window, however many arrive at once. The window's first attempt
    creates the row; when attempts race to create it, the losers count in the winner's row
    (a row that exists is full only if the conditional UPDATE finds it so).
    """
    room = Throttle.objects.filter(key=digest, count__lt=bucket.limit)
    if room.update(count=models.F("count") + 1):
        return True
    if bucket.limit < 1:
        return False
    if not Throttle.objects.filter(key=digest).exists():
        try:
            with transaction.atomic():
                Throttle.objects.create(key=digest, count=1, expires_at=expires)
            return True
        except IntegrityError:
            pass  # created meanwhile by a concurrent attempt
    return bool(room.update(count=models.F("count") + 1))


def reserve(buckets: list[Bucket]) -> tuple[int, str, list[str]]:
    """Count this attempt in every bucket before it is verified, or refuse it.

    Returns (0, "", the slots counted in) when counted, else (seconds until the full bucket
    reopens, its key, []) with nothing counted. Checking first and counting the failure
    after the verification let every attempt that arrived together through (N at once got
    N guesses at a 6-digit code); counted first, at most `limit` attempts per window are
    ever verified. A success gives its attempt back: `refund(slots)`.
    """
    expires = _now() + timedelta(seconds=_window())
    taken: list[str] = []
    for bucket in buckets:
        digest = _slot(bucket.key)
        if not _take_one(bucket, digest, expires):
            _give_back(taken)
            return _wait(), bucket.key, []
        taken.append(digest)
    return 0, "", taken


def _give_back(slots: list[str]) -> None:
    for digest in slots:
        Throttle.objects.filter(key=digest, count__gt=0).update(count=models.F("count") - 1)


def refund(slots: list[str]) -> None:
    """Give back the attempt `reserve` counted in these slots (the attempt succeeded).

    The slots are the ones `reserve` counted in, not the current window's: a success that
    crosses a window boundary gives back what it took, never a failure of the next window.
    """
    _give_back(slots)


def failures(bucket: Bucket) -> int:
    """Return the failures a bucket holds in the current window."""
    return (
        Throttle.objects.filter(key=_slot(bucket.key)).values_list("count", flat=True).first() or 0
    )


def clear(bucket: Bucket) -> None:
    """Forget a bucket's failures (after the owner succeeded from that place)."""
    Throttle.objects.filter(key=_slot(bucket.key)).delete()
