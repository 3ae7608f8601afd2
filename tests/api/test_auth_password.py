from django.test import Client

from accounts.models import ApiSession
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD


def test_it_exchanges_a_root_password(root):
    response = Client().post(
        "/v1/auth",
        {"email": root.email, "password": ROOT_PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["operatorId"] == root.operator_id
    assert body["apiKey"].startswith("api-")
    assert "userName" not in body
    assert ApiSession.objects.filter(api_key=body["apiKey"], principal=root).exists()


def test_it_exchanges_a_sam_password_and_names_the_user(alice):
    response = Client().post(
        "/v1/auth",
        {"operatorId": alice.operator_id, "userName": "alice", "password": SAM_PASSWORD},
        content_type="application/json",
    )
    assert response.json()["userName"] == "alice"


def test_it_refuses_a_wrong_password_with_the_generic_body(root):
    response = Client().post(
        "/v1/auth",
        {"email": root.email, "password": "wrong-one-here"},
        content_type="application/json",
    )
    assert response.status_code == 401
    assert response.json() == {"code": "LKY0401", "message": "Authentication failed."}


def test_it_refuses_duplicate_keys(root):
    body = '{"email": "x@example.com", "email": "root@example.com", "password": "p"}'
    response = Client().post("/v1/auth", body, content_type="application/json")
    assert response.status_code == 400


def test_it_refuses_null_fields(root):
    response = Client().post(
        "/v1/auth", {"email": root.email, "password": None}, content_type="application/json"
    )
    assert response.status_code == 400


def test_it_ends_the_session_at_logout(root_api):
    client = Client()
    assert client.post("/v1/auth/logout", **root_api).status_code == 204
    assert client.post("/v1/auth/logout", **root_api).status_code == 401


def test_it_refuses_a_token_with_another_api_key(root_api):
    headers = {**root_api, "HTTP_X_SORACOM_API_KEY": "api-00000000-0000-0000-0000-000000000000"}
    assert Client().post("/v1/auth/logout", **headers).status_code == 401


def test_it_accepts_a_bearer_token(root_api):
    headers = {"HTTP_AUTHORIZATION": "Bearer " + root_api["HTTP_X_SORACOM_TOKEN"]}
    assert Client().post("/v1/auth/logout", **headers).status_code == 204


def test_it_refuses_a_body_over_64_kib(db):
    response = Client().post(
        "/v1/auth", '{"email": "' + "a" * 70000 + '"}', content_type="application/json"
    )
    assert response.status_code == 413


def test_it_serves_the_jwks(db):
    keys = Client().get("/.well-known/jwks.json").json()["keys"]
    assert keys[0]["kty"] == "OKP"
    assert keys[0]["crv"] == "Ed25519"
