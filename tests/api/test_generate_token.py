"""POST {op}/token (Operator:generateAuthToken): a fresh token for the caller's apiKey."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import apisessions, tokens
from accounts.models import ApiSession
from security.models import AuditEntry
from tests.api.harness import call, error_of, snapshot

pytestmark = pytest.mark.django_db


def _path(operator_id: str) -> str:
    return f"/v1/operators/{operator_id}/token"


def _claims(token: str) -> dict:
    return tokens.verify(token, int(timezone.now().timestamp()))


def _session(headers: dict) -> ApiSession:
    return ApiSession.objects.get(api_key=headers["HTTP_X_SORACOM_API_KEY"])


def test_it_returns_a_token_of_the_same_session(root, root_api):
    before = _claims(root_api["HTTP_X_SORACOM_TOKEN"])
    response = call("POST", _path(root.operator_id), root_api, {"tokenTimeoutSeconds": 600})
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"token"}
    token = response.json()["token"]
    claims = _claims(token)
    assert claims["jti"] == before["jti"]
    assert claims["exp"] - claims["iat"] == 600
    assert ApiSession.objects.filter(principal=root).count() == 1
    headers = {**root_api, "HTTP_X_SORACOM_TOKEN": token}
    assert call("GET", f"/v1/operators/{root.operator_id}", headers).status_code == 200


def test_it_defaults_to_a_day(root, root_api):
    response = call("POST", _path(root.operator_id), root_api)
    claims = _claims(response.json()["token"])
    assert claims["exp"] - claims["iat"] == 86400


def test_it_accepts_the_go_sdks_timeout_seconds(root, root_api):
    response = call("POST", _path(root.operator_id), root_api, {"timeout_seconds": 172800})
    assert response.status_code == 200
    claims = _claims(response.json()["token"])
    assert claims["exp"] - claims["iat"] == 172800
    session = _session(root_api)
    assert int(session.expires_at.timestamp()) == claims["exp"]


def test_it_keeps_the_older_token_good_until_its_own_expiry(root, root_api):
    call("POST", _path(root.operator_id), root_api, {"tokenTimeoutSeconds": 60})
    assert call("GET", f"/v1/operators/{root.operator_id}", root_api).status_code == 200
    session = _session(root_api)
    assert session.expires_at > timezone.now() + timedelta(hours=23)


@pytest.mark.parametrize(
    "body",
    [
        {"tokenTimeoutSeconds": 0},
        {"tokenTimeoutSeconds": 172801},
        {"tokenTimeoutSeconds": -5},
        {"tokenTimeoutSeconds": "600"},
        {"tokenTimeoutSeconds": None},
        {"tokenTimeoutSeconds": 600, "timeout_seconds": 600},
        {"tokenTimeout": 600},
    ],
)
def test_it_refuses_a_bad_timeout_with_400(root, root_api, body):
    before = snapshot()
    expiry = _session(root_api).expires_at
    response = call("POST", _path(root.operator_id), root_api, body)
    assert response.status_code == 400
    error_of(response)
    assert snapshot() == before
    assert _session(root_api).expires_at == expiry


def test_it_answers_400_for_an_expired_token_and_issues_nothing(root, root_api, monkeypatch):
    later = timezone.now() + timedelta(days=2)
    monkeypatch.setattr(apisessions, "_now", lambda: later)
    before = snapshot()
    response = call("POST", _path(root.operator_id), root_api, {"tokenTimeoutSeconds": 600})
    assert response.status_code == 400
    assert "expired" in error_of(response)["message"]
    assert snapshot() == before


def test_it_answers_401_for_a_revoked_session(root, root_api):
    apisessions.revoke(root_api["HTTP_X_SORACOM_API_KEY"])
    response = call("POST", _path(root.operator_id), root_api)
    assert response.status_code == 401


def test_it_answers_401_for_a_forged_token(root, root_api):
    token = root_api["HTTP_X_SORACOM_TOKEN"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = call("POST", _path(root.operator_id), {**root_api, "HTTP_X_SORACOM_TOKEN": forged})
    assert response.status_code == 401


def test_it_answers_404_for_another_operators_path(root, root_api, outsider):
    response = call("POST", _path(outsider.operator_id), root_api)
    assert response.status_code == 404
    assert _session(root_api).expires_at < timezone.now() + timedelta(days=1, minutes=1)


def test_it_refuses_a_sam_user_without_the_permission(alice, alice_api):
    response = call("POST", _path(alice.operator_id), alice_api)
    assert response.status_code == 403


def test_it_lets_a_permitted_sam_user_refresh(alice, alice_api):
    alice.inline_permission = (
        '{"statements":[{"effect":"allow","api":"Operator:generateAuthToken"}]}'
    )
    alice.save()
    alice.operator.bump_policy_version()
    response = call("POST", _path(alice.operator_id), alice_api, {"tokenTimeoutSeconds": 300})
    assert response.status_code == 200
    assert _claims(response.json()["token"])["userName"] == "alice"


def test_it_records_the_refresh_without_the_token(root, root_api):
    response = call("POST", _path(root.operator_id), root_api)
    entry = AuditEntry.objects.filter(action="Operator:generateAuthToken").get()
    assert entry.outcome == "allowed"
    assert entry.details == {"timeoutSeconds": 86400}
    assert response.json()["token"][-20:] not in str(entry.__dict__)


def test_it_ends_the_new_token_with_the_session(root, root_api):
    token = call("POST", _path(root.operator_id), root_api).json()["token"]
    apisessions.revoke(root_api["HTTP_X_SORACOM_API_KEY"])
    headers = {**root_api, "HTTP_X_SORACOM_TOKEN": token}
    assert call("GET", f"/v1/operators/{root.operator_id}", headers).status_code == 401
