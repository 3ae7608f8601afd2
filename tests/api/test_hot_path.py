"""The authenticated hot path's statements, counted by the database on PostgreSQL.

Every API call looks its session up; listing the root's AuthKeys is one more read, which on
PostgreSQL travels in the session lookup's statement (a companion read,
security/api_access.py): one round trip. Both go through console/hotsql.py, prepared on
PostgreSQL, where Django's query capture cannot see them: tests/statements.py counts what
the database ran.
"""

import pytest
from django.db import connection
from django.test import Client

from security import authkeys
from tests.statements import count_statements


def _list_keys(root, headers):
    return Client().get(f"/v1/operators/{root.operator_id}/auth_keys", **headers)


ON_POSTGRES = connection.vendor == "postgresql"


def test_it_answers_an_authenticated_read_with_one_statement_on_postgresql(root, root_api):
    authkeys.generate(None, root, root)
    assert _list_keys(root, root_api).status_code == 200  # warm: first use of the connection
    with count_statements() as counted:
        response = _list_keys(root, root_api)
    assert response.status_code == 200
    assert len(response.json()) == 1
    assert counted.total == (1 if ON_POSTGRES else 2), counted.statements


@pytest.mark.skipif(not ON_POSTGRES, reason="prepared statements: PostgreSQL")
def test_it_reads_the_session_and_the_keys_in_one_prepared_statement(root, root_api):
    _list_keys(root, root_api)
    with count_statements() as counted:
        assert _list_keys(root, root_api).status_code == 200
    assert counted.django == []
    (statement,) = counted.prepared
    assert "accounts_apisession" in statement
    assert "json_agg" in statement


@pytest.mark.skipif(not ON_POSTGRES, reason="the companion read: PostgreSQL")
def test_it_answers_the_same_with_and_without_the_companion_read(root, root_api, settings):
    used, _ = authkeys.generate(None, root, root)
    authkeys.generate(None, root, root)
    authkeys.AuthKey.objects.filter(pk=used.pk).update(
        last_used_at=used.created_at.replace(microsecond=999999)
    )
    together = _list_keys(root, root_api).json()
    settings.LATCHKEY_PREPARED_LOOKUP = False
    apart = _list_keys(root, root_api).json()
    assert together == apart
    assert [k.get("lastUsedDateTime") is not None for k in together] == [True, False]


def test_it_answers_401_without_the_keys_to_a_revoked_session(root, root_api, canary):
    key, secret = authkeys.generate(None, root, root)
    canary.add(secret)
    session = Client().post(
        "/v1/auth", {"authKeyId": key.key_id, "authKey": secret}, content_type="application/json"
    )
    headers = {
        "HTTP_X_SORACOM_API_KEY": session.json()["apiKey"],
        "HTTP_X_SORACOM_TOKEN": session.json()["token"],
    }
    assert _list_keys(root, headers).status_code == 200
    authkeys.revoke(None, root, key)
    response = _list_keys(root, headers)
    assert response.status_code == 401
    assert key.key_id.encode() not in response.content
    canary.assert_nowhere()
