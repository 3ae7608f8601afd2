"""Credential sets through the published `soracom-api` 0.0.2 client (soracom-api.md §9).

Reuses the driver and fixtures of tests/api/test_soracom_client.py: the client runs in its
own virtual environment and raises on any null, any wrong type and any non-2xx status.
"""

import pytest

from security import credentials
from security.models import CredentialSet
from tests.api import test_soracom_client as client_tests
from tests.api.test_soracom_client import model, ok, root_auth

# The client's fixtures (its virtual environment and the driver against a live server).
soracom_python = client_tests.soracom_python
run = client_tests.run

pytestmark = pytest.mark.django_db(transaction=True)


def credential_call(method: str, **kwargs) -> dict:
    return {"api": "CredentialApi", "method": method, "kwargs": kwargs}


def body(kind: str, fields: dict, description: str = "") -> dict:
    return model("CreateAndUpdateCredentialsModel", type=kind, credentials=fields,
                 description=description)  # fmt: skip


def test_it_creates_lists_updates_and_deletes_through_the_client(run, root):
    aws = {"accessKeyId": "AKIACLIENT", "secretAccessKey": "client-secret-value"}
    results = run(
        root_auth(root),
        credential_call(
            "create_credential",
            credentials_id="aws-client",
            create_and_update_credentials_model=body("aws-credentials", aws, "from the client"),
        ),
        credential_call("list_credentials"),
        credential_call(
            "update_credential",
            credentials_id="aws-client",
            create_and_update_credentials_model=body("aws-credentials", aws, "renamed"),
        ),
        credential_call("delete_credential", credentials_id="aws-client"),
        credential_call("list_credentials"),
    )
    created = ok(results[1])
    assert created["credentials_id"] == "aws-client"
    assert created["credentials"] == {}
    assert created["last_used_date_time"] == 0
    listed = ok(results[2])
    assert [m["credentials_id"] for m in listed] == ["aws-client"]
    assert ok(results[3])["description"] == "renamed"
    assert results[4]["ok"]
    assert ok(results[5]) == []
    assert not CredentialSet.objects.exists()


def test_it_stores_what_the_client_sent(run, root):
    run(
        root_auth(root),
        credential_call(
            "create_credential",
            credentials_id="psk-client",
            create_and_update_credentials_model=body("psk", {"key": "client-psk-0123"}),
        ),
    )
    assert credentials.use_credential_set(root.operator, "psk-client") == {"key": "client-psk-0123"}


def test_it_maps_a_missing_set_to_the_clients_404(run, root):
    results = run(root_auth(root), credential_call("delete_credential", credentials_id="nope"))
    assert results[1]["status"] == 404
    assert results[1]["exception"] == "NotFoundException"


def test_it_maps_bad_input_to_an_api_exception(run, root):
    results = run(
        root_auth(root),
        credential_call(
            "create_credential",
            credentials_id="bad",
            create_and_update_credentials_model=body("psk", {"key": "short"}),
        ),
    )
    assert results[1]["status"] == 400
    assert "credentials.key" in results[1]["body"]["message"]
    assert not CredentialSet.objects.exists()
