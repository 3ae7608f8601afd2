"""GET /v1/openapi.json: OpenAPI 3.1, generated from the routes, Soracom's operation IDs."""

import pytest
from django.test import Client
from openapi_spec_validator import validate

from tests.api.harness import call
from tests.operations_table import (
    API_OPERATIONS,
    ROOT_ONLY_OPERATIONS,
    UNAUTHENTICATED_OPERATIONS,
)
from tests.routes import all_routes, contract_path

EMPTY = '{"statements":[]}'


@pytest.fixture(scope="module")
def spec() -> dict:
    response = Client().get("/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(spec: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): details
        for path, methods in spec["paths"].items()
        for method, details in methods.items()
    }


def _registered() -> dict[tuple[str, str], str | None]:
    # /auth takes no token: its name is `public_api_name` (security/api_access.unauthenticated).
    return {
        (r.method, contract_path(r)): r.api_name or getattr(r.callback, "public_api_name", None)
        for r in all_routes()
        if r.kind == "api"
    }


def test_it_serves_the_document_without_a_token(db):
    response = Client().get("/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")


def test_it_validates_as_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on any violation of the 3.1 schema


def test_it_lists_exactly_the_registered_operations(spec):
    assert set(_operations(spec)) == set(_registered())


def test_it_lists_every_operation_of_the_table(spec):
    table = {**API_OPERATIONS, ("POST", "/auth"): "Auth:auth"}
    documented = {key: d["x-latchkey-api-name"] for key, d in _operations(spec).items()}
    assert {k: documented.get(k) for k in table} == table


def test_it_names_each_operation_by_its_registered_api_name(spec):
    registered = _registered()
    for key, details in _operations(spec).items():
        tag, _, operation_id = registered[key].partition(":")
        assert (details["operationId"], details["tags"]) == (operation_id, [tag]), key


def test_it_uses_each_operation_id_once(spec):
    ids = [d["operationId"] for d in _operations(spec).values()]
    assert len(ids) == len(set(ids))


def test_it_keeps_soracom_tags_for_role_operations_under_users(spec):
    details = spec["paths"]["/operators/{operator_id}/users/{user_name}/roles"]["post"]
    assert (details["operationId"], details["tags"]) == ("attachRole", ["Role"])


def test_it_declares_a_success_answer_for_every_operation(spec):
    missing = [
        key
        for key, details in _operations(spec).items()
        if not any(status.startswith("2") for status in details["responses"])
    ]
    assert not missing, "add them to security/api_schemas.py SUCCESS: " + repr(missing)


def test_it_describes_the_error_body(spec):
    error = spec["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"code", "message"}
    details = spec["paths"]["/operators/{operator_id}/users/{user_name}"]["get"]
    assert details["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


def test_it_declares_the_two_security_schemes(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["api_key"] == {"type": "apiKey", "in": "header", "name": "X-Soracom-API-Key"}
    assert schemes["api_token"] == {"type": "apiKey", "in": "header", "name": "X-Soracom-Token"}
    assert schemes["bearer"]["scheme"] == "bearer"


# Operations that check credentials themselves instead of a token (soracom-api.md §4.10).
UNAUTHENTICATED = {
    ("POST", "/auth"),
    ("POST", "/operators/mfa_revoke_token/issue"),
    ("POST", "/operators/mfa_revoke_token/verify"),
}


def test_it_requires_both_headers_or_bearer_on_every_operation_but_auth(spec):
    for key, details in _operations(spec).items():
        expected = (
            None
            if key in UNAUTHENTICATED or key in UNAUTHENTICATED_OPERATIONS
            else [
                {"api_key": [], "api_token": []},
                {"bearer": []},
            ]
        )
        assert details.get("security") == expected, key


def test_it_documents_request_bodies(spec):
    body = spec["paths"]["/auth"]["post"]["requestBody"]["content"]["application/json"]
    fields = spec["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"authKeyId", "authKey", "mfaOTPCode", "tokenTimeoutSeconds"} <= set(
        fields["properties"]
    )
    assert fields["additionalProperties"] is False


def test_it_documents_response_schemas(spec):
    answer = spec["paths"]["/operators/{operator_id}/users"]["get"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema == {"type": "array", "items": {"$ref": "#/components/schemas/UserDetailResponse"}}
    detail = spec["components"]["schemas"]["UserDetailResponse"]
    assert {"userName", "hasPassword", "authKeyList", "roleList"} <= set(detail["required"])


def test_it_documents_the_audit_log_query(spec):
    details = spec["paths"]["/audit_logs/api"]["get"]
    assert {p["name"] for p in details["parameters"]} >= {"api_kind", "limit", "last_evaluated_key"}


def test_it_marks_the_root_only_operations(spec):
    marked = {
        d["x-latchkey-api-name"]
        for d in _operations(spec).values()
        if d.get("x-latchkey-root-only")
    }
    served = {d["x-latchkey-api-name"] for d in _operations(spec).values()}
    assert marked == ROOT_ONLY_OPERATIONS & served


OP = "/operators/{operator_id}"


@pytest.mark.parametrize(
    ("method", "path", "values", "body"),
    [
        ("GET", OP + "/users", {}, None),
        ("POST", OP + "/users/{user_name}", {"user_name": "newbie"}, {}),
        ("POST", OP + "/users/{user_name}/auth_keys", {"user_name": "alice"}, None),
        ("POST", OP + "/auth_keys", {}, None),
        ("POST", OP + "/roles/{role_id}", {"role_id": "viewer"}, {"permission": EMPTY}),
        ("PUT", OP + "/users/default_permissions", {}, {"permissions": EMPTY}),
        ("DELETE", OP + "/users/{user_name}/permission", {"user_name": "alice"}, None),
    ],
)
def test_it_declares_the_status_a_call_answers(spec, root_api, alice, method, path, values, body):
    url = "/v1" + path.format(operator_id=alice.operator_id, **values)
    response = call(method, url, root_api, body)
    assert response.status_code < 300
    successes = [s for s in spec["paths"][path][method.lower()]["responses"] if s[0] == "2"]
    assert successes == [str(response.status_code)]
