"""Fixtures of the security tests."""

import pytest
from django.db import connection

from tests.security.pgroles import ensure_prune_role


@pytest.fixture(scope="session")
def audit_prune_role(django_db_setup, django_db_blocker) -> None:
    """On PostgreSQL: the pruning role with its grants in the test database (docs/audit.md)."""
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        ensure_prune_role(cursor)
