"""GET/POST/PUT/DELETE /v1/credentials (soracom-api.md §4.8): contract shape and bad input."""

import secrets
import time

import pytest

from security import credentials
from security.models import AuditEntry, CredentialSet, Group, GroupServiceConfig
from tests.api.harness import call, error_of
from tests.security.credential_samples import make_cert, sample_fields

MODEL_KEYS = {
    "credentialsId",
    "type",
    "description",
    "credentials",
    "createDateTime",
    "updateDateTime",
    "lastUsedDateTime",
}


def body(kind="aws-credentials", **extra):
    return {"type": kind, "description": "prod", "credentials": sample_fields(kind), **extra}


def stored(operator) -> list:
    return sorted(
        CredentialSet.objects.filter(operator=operator).values_list(
            "credentials_id", "type", "description", "ciphertext", "updated_at"
        )
    )


# --- access -----------------------------------------------------------------------------


def test_it_refuses_an_anonymous_call(db):
    response = call("GET", "/v1/credentials", {})
    assert response.status_code == 401
    assert error_of(response)["code"] == "LKY0401"


def test_it_forbids_a_sam_user_without_permission(alice_api, root):
    assert call("GET", "/v1/credentials", alice_api).status_code == 403
    response = call("POST", "/v1/credentials/x", alice_api, body())
    assert response.status_code == 403
    assert not CredentialSet.objects.exists()


def test_it_answers_404_for_another_operators_set_on_put(root_api, outsider):
    credentials.create_credential_set(None, outsider, "theirs", "psk", "", sample_fields("psk"))
    before = stored(outsider.operator)
    response = call("PUT", "/v1/credentials/theirs", root_api, {"description": "mine now"})
    assert response.status_code == 404
    assert response.json() == call("PUT", "/v1/credentials/nope", root_api, {}).json()
    assert stored(outsider.operator) == before


def test_it_answers_404_for_another_operators_set_on_delete(root_api, outsider):
    credentials.create_credential_set(None, outsider, "theirs", "psk", "", sample_fields("psk"))
    response = call("DELETE", "/v1/credentials/theirs", root_api)
    assert response.status_code == 404
    assert CredentialSet.objects.filter(credentials_id="theirs").exists()


def test_it_lists_only_the_callers_sets(root_api, root, outsider):
    credentials.create_credential_set(None, root, "mine", "psk", "", sample_fields("psk"))
    credentials.create_credential_set(None, outsider, "theirs", "psk", "", sample_fields("psk"))
    response = call("GET", "/v1/credentials", root_api)
    assert [m["credentialsId"] for m in response.json()] == ["mine"]


# --- contract ---------------------------------------------------------------------------


def test_it_creates_with_201_and_the_full_model(root_api, root):
    before = int(time.time())
    response = call("POST", "/v1/credentials/aws-prod", root_api, body())
    assert response.status_code == 201
    model = response.json()
    assert set(model) == MODEL_KEYS
    assert model["credentialsId"] == "aws-prod"
    assert model["type"] == "aws-credentials"
    assert model["credentials"] == {}
    assert model["lastUsedDateTime"] == 0
    assert isinstance(model["createDateTime"], int)
    assert before <= model["createDateTime"] <= int(time.time())
    assert CredentialSet.objects.get(operator=root.operator, credentials_id="aws-prod")


def test_it_lists_models_without_secrets_or_nulls(root_api, root):
    call("POST", "/v1/credentials/a", root_api, body())
    call("POST", "/v1/credentials/b", root_api, body("x509"))
    models = call("GET", "/v1/credentials", root_api).json()
    assert [m["credentialsId"] for m in models] == ["a", "b"]
    for model in models:
        assert set(model) == MODEL_KEYS
        assert model["credentials"] == {}
        assert None not in model.values()


def test_it_reports_the_last_use_in_seconds(root_api, root):
    call("POST", "/v1/credentials/a", root_api, body())
    credentials.use_credential_set(root.operator, "a")
    model = call("GET", "/v1/credentials", root_api).json()[0]
    assert abs(model["lastUsedDateTime"] - time.time()) < 60


def test_it_updates_the_description_only(root_api, root):
    call("POST", "/v1/credentials/a", root_api, body())
    before = bytes(CredentialSet.objects.get(credentials_id="a").ciphertext)
    response = call("PUT", "/v1/credentials/a", root_api, {"description": "renamed"})
    assert response.status_code == 200
    assert response.json()["description"] == "renamed"
    assert response.json()["credentials"] == {}
    assert bytes(CredentialSet.objects.get(credentials_id="a").ciphertext) == before


def test_it_replaces_the_credentials_on_put(root_api, root):
    call("POST", "/v1/credentials/a", root_api, body())
    new = {"accessKeyId": "AKIANEW", "secretAccessKey": "new-secret"}
    response = call("PUT", "/v1/credentials/a", root_api, {"type": "aws-credentials",
                                                            "credentials": new})  # fmt: skip
    assert response.status_code == 200
    assert credentials.use_credential_set(root.operator, "a") == new


def test_it_refuses_a_partial_credentials_object_on_put(root_api, root):
    call("POST", "/v1/credentials/a", root_api, body())
    before = stored(root.operator)
    response = call("PUT", "/v1/credentials/a", root_api, {"credentials": {"accessKeyId": "X"}})
    assert response.status_code == 400
    assert "credentials.secretAccessKey: is required." in error_of(response)["message"]
    assert stored(root.operator) == before


def test_it_deletes_with_204(root_api, root):
    call("POST", "/v1/credentials/a", root_api, body())
    response = call("DELETE", "/v1/credentials/a", root_api)
    assert response.status_code == 204
    assert response.content == b""
    assert not CredentialSet.objects.exists()


def test_it_answers_404_when_deleting_a_missing_set(root_api):
    response = call("DELETE", "/v1/credentials/nope", root_api)
    assert response.status_code == 404
    assert error_of(response)["code"] == "LKY0404"


def test_it_refuses_to_delete_a_set_in_use(root_api, root):
    call("POST", "/v1/credentials/a", root_api, body())
    group = Group.objects.create(operator=root.operator, name="g1")
    GroupServiceConfig.objects.create(
        group=group,
        service="funnel",
        destination_url="https://x.example",
        credential_set=CredentialSet.objects.get(credentials_id="a"),
    )
    response = call("DELETE", "/v1/credentials/a", root_api)
    assert response.status_code == 409
    assert "g1" in error_of(response)["message"]
    assert CredentialSet.objects.filter(credentials_id="a").exists()


def test_it_audits_api_calls_with_the_api_name(root_api, root):
    call("POST", "/v1/credentials/a", root_api, body())
    entry = AuditEntry.objects.get(action="Credential:createCredential")
    assert entry.target == "a"
    assert entry.details == {"type": "aws-credentials"}


# --- limits -----------------------------------------------------------------------------


def test_it_answers_409_at_the_quota_saying_how_to_ask_for_more(root_api, root):
    root.operator.credential_quota = 1
    root.operator.save()
    assert call("POST", "/v1/credentials/a", root_api, body()).status_code == 201
    response = call("POST", "/v1/credentials/b", root_api, body())
    assert response.status_code == 409
    assert "raise the operator's quota" in error_of(response)["message"]
    assert CredentialSet.objects.count() == 1


def test_it_answers_409_for_a_duplicate_id(root_api, root):
    call("POST", "/v1/credentials/a", root_api, body())
    response = call("POST", "/v1/credentials/a", root_api, body())
    assert response.status_code == 409
    assert CredentialSet.objects.count() == 1


def test_it_answers_413_for_a_body_over_64_kib(root_api):
    big = body("api-token-credentials")
    big["credentials"]["token"] = "t" * 70_000
    response = call("POST", "/v1/credentials/a", root_api, big)
    assert response.status_code == 413
    assert not CredentialSet.objects.exists()


# --- bad input: 400 naming the field, nothing stored, input never echoed -----------------

SECRET = "ECHO-CANARY-99821-" + secrets.token_hex(8)


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"type": "ftp", "credentials": {"key": SECRET}}, "type"),
        (
            {"type": "psk", "credentials": {"secretAccessKey": SECRET}},
            "credentials.secretAccessKey",
        ),
        ({"type": "psk", "credentials": {"key": SECRET * 40}}, "credentials.key"),
        ({"type": "psk", "credentials": {"key": 12345678}}, "credentials.key"),
        ({"type": "psk", "credentials": {"key": None}}, "credentials.key"),
        ({"type": "x509", "credentials": {"cert": SECRET, "key": SECRET}}, "credentials.cert"),
        (
            {"type": "google-service-account-json", "credentials": {"credentials": SECRET}},
            "credentials.credentials",
        ),
        ({"type": "psk", "credentials": [SECRET]}, "credentials"),
        ({"type": None, "credentials": {"key": SECRET}}, "type"),
        ({"type": "psk", "credentials": {"key": SECRET}, "operatorId": "OP1"}, "operatorId"),
        ({"type": "psk"}, "credentials"),
        ({"type": "psk", "description": 5, "credentials": {"key": SECRET}}, "description"),
    ],
)
def test_it_refuses_bad_input_naming_the_field(canary, root_api, root, payload, named):
    canary.add(SECRET, label="refused field")
    response = call("POST", "/v1/credentials/a", root_api, payload)
    assert response.status_code == 400
    message = error_of(response)["message"]
    assert named in message
    assert not CredentialSet.objects.exists()
    canary.assert_nowhere()


def test_it_refuses_a_nul_character(root_api):
    # The JSON parser refuses NUL anywhere in a body; the service would name the field.
    payload = {"type": "psk", "credentials": {"key": SECRET + "\x00"}}
    response = call("POST", "/v1/credentials/a", root_api, payload)
    assert response.status_code == 400
    assert SECRET not in response.content.decode()
    assert not CredentialSet.objects.exists()


def test_it_refuses_an_invalid_id(root_api):
    response = call("POST", "/v1/credentials/-bad", root_api, body())
    assert response.status_code == 400
    assert "credentialsId" in error_of(response)["message"]


def test_it_refuses_a_key_that_does_not_match_its_certificate(root_api):
    cert, _ = make_cert()
    _, other = make_cert()
    payload = {"type": "x509", "credentials": {"cert": cert, "key": other}}
    response = call("POST", "/v1/credentials/a", root_api, payload)
    assert response.status_code == 400
    assert "credentials.key: does not match" in error_of(response)["message"]
    assert "PRIVATE KEY" not in response.content.decode()


def test_it_refuses_null_on_put(root_api, root):
    call("POST", "/v1/credentials/a", root_api, body())
    response = call("PUT", "/v1/credentials/a", root_api, {"description": None})
    assert response.status_code == 400
    assert "description" in error_of(response)["message"]


def test_it_refuses_invalid_json(root_api):
    response = call("POST", "/v1/credentials/a", root_api, raw='{"type": "psk",')
    assert response.status_code == 400
    assert not CredentialSet.objects.exists()


# --- permissions through the engine ------------------------------------------------------


def _grant(root, alice, statements: list[dict]) -> None:
    import json

    from security import roles

    roles.set_inline_permission(None, root, alice, json.dumps({"statements": statements}))


def test_it_lets_a_sam_user_with_credential_permissions_manage_sets(root, alice, alice_api):
    _grant(root, alice, [{"effect": "allow", "api": "Credential:*"}])
    assert call("POST", "/v1/credentials/a", alice_api, body()).status_code == 201
    assert [m["credentialsId"] for m in call("GET", "/v1/credentials", alice_api).json()] == ["a"]
    assert CredentialSet.objects.get(credentials_id="a").operator_id == root.operator_id
    entry = AuditEntry.objects.get(action="Credential:createCredential")
    assert entry.actor == "alice"


def test_it_honours_a_deny_on_one_credentials_id(root, alice, alice_api):
    _grant(
        root,
        alice,
        [
            {"effect": "allow", "api": "Credential:*"},
            {
                "effect": "deny",
                "api": "Credential:deleteCredential",
                "condition": "pathVariable('credentials_id') == 'prod'",
            },
        ],
    )
    call("POST", "/v1/credentials/prod", alice_api, body())
    call("POST", "/v1/credentials/dev", alice_api, body())
    assert call("DELETE", "/v1/credentials/prod", alice_api).status_code == 403
    assert call("DELETE", "/v1/credentials/dev", alice_api).status_code == 204
    assert list(CredentialSet.objects.values_list("credentials_id", flat=True)) == ["prod"]
