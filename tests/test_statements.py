"""The statement counter (tests/statements.py) sees prepared statements on PostgreSQL."""

from django.db import connection

from accounts.models import Operator
from console import hotsql
from tests.statements import count_statements

ON_POSTGRES = connection.vendor == "postgresql"


def test_it_counts_nothing_when_nothing_runs(db):
    connection.ensure_connection()
    with count_statements() as counted:
        pass
    assert counted.total == 0


def test_it_counts_a_query_through_djangos_cursor(db):
    with count_statements() as counted:
        list(Operator.objects.all())
    assert counted.total == 1
    assert len(counted.django) == 1


def test_it_counts_a_hot_path_query_that_django_cannot_see(db):
    with count_statements() as counted:
        hotsql.rows("SELECT %s + 1", [1])
    assert counted.total == 1
    if ON_POSTGRES:  # prepared: Django's capture alone would have seen nothing
        assert counted.django == []
        assert counted.prepared == ["SELECT $1 + 1"]


def test_it_counts_every_run_of_one_prepared_statement(db):
    hotsql.rows("SELECT %s + 2", [1])  # prepared before the block: only the runs count
    with count_statements() as counted:
        for n in range(3):
            hotsql.rows("SELECT %s + 2", [n])
    assert counted.total == 3
