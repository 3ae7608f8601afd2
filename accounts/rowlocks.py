"""Principal row locks: how a delete and the creation of a principal's children take turns.

A SAM user's AuthKeys, API sessions and role attachments reference its row. On PostgreSQL
foreign keys are checked at commit, so a child inserted while its user is being deleted
failed at commit with an IntegrityError (a 500), or slipped past the delete's revocations.
Every transaction that deletes a principal, or creates something that references one, now
locks the principal's row first, before any other row, in one of three strengths:

- `hold`   (FOR KEY SHARE): the child creators that may run side by side (API sessions);
  blocks only a delete;
- `claim`  (FOR NO KEY UPDATE): writers that must also take turns with each other
  (AuthKey generation, whose slots the database counts; role attachments, whose number
  per user is capped); does not block a `hold`;
- `take`   (FOR UPDATE): the delete; waits for every holder and claimer, and they for it.

Whoever locks first wins: a creator that comes second finds the row gone and reports the
user missing (404, or a failed sign-in); a delete that comes second sees, and ends, what
the creator committed. Taking the principal first, always, keeps the lock order acyclic
(principal, then keys, then the audit chain head). SQLite serializes writers already
(IMMEDIATE transactions): there the functions only say whether the row still exists.
"""

from django.db import connection

from accounts.models import Principal

_CLAUSES = {"hold": "FOR KEY SHARE", "claim": "FOR NO KEY UPDATE", "take": "FOR UPDATE"}


def _lock(principal_id: int, strength: str) -> bool:
    if connection.vendor != "postgresql":
        return Principal.objects.filter(pk=principal_id).exists()
    table = connection.ops.quote_name(Principal._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s {_CLAUSES[strength]}", [principal_id])  # noqa: S608
        return cursor.fetchone() is not None


def hold(principal_id: int) -> bool:
    """Lock the principal against deletion until commit; return False if it is gone."""
    return _lock(principal_id, "hold")


def claim(principal_id: int) -> bool:
    """Lock the principal for one writer of its children at a time; False if it is gone."""
    return _lock(principal_id, "claim")


def take(principal_id: int) -> bool:
    """Lock the principal for deletion; return False if another request deleted it first."""
    return _lock(principal_id, "take")
