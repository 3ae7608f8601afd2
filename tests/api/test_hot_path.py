"""The authenticated hot path runs two statements, counted by the database on PostgreSQL.

Every API call looks its session up; listing the root's AuthKeys is one more query. Both go
through console/hotsql.py, prepared on PostgreSQL, where Django's query capture cannot see
them: tests/statements.py counts what the database ran.
"""

import pytest
from django.db import connection
from django.test import Client

from security import authkeys
from tests.statements import count_statements


def _list_keys(root, headers):
    return Client().get(f"/v1/operators/{root.operator_id}/auth_keys", **headers)


def test_it_answers_an_authenticated_read_with_two_statements(root, root_api):
    authkeys.generate(None, root, root)
    assert _list_keys(root, root_api).status_code == 200  # warm: first use of the connection
    with count_statements() as counted:
        response = _list_keys(root, root_api)
    assert response.status_code == 200
    assert len(response.json()) == 1
    assert counted.total == 2, counted.statements


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_it_runs_both_as_prepared_statements_on_postgresql(root, root_api):
    _list_keys(root, root_api)
    with count_statements() as counted:
        assert _list_keys(root, root_api).status_code == 200
    assert counted.django == []
    assert len(counted.prepared) == 2
    assert any("accounts_apisession" in sql for sql in counted.prepared)
    assert any("security_authkey" in sql for sql in counted.prepared)
