"""TOTP MFA over plain HTTP (soracom-api.md §4.10) and its effect on /v1/auth.

Codes come from pyotp with the secret of the `totpUri` the server returned; the server's
clock (security/mfa.clock) is moved step by step so that every code is fresh.
"""

from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from django.test import Client

from accounts.models import ApiSession
from security import mfa
from security.models import AuditEntry, BackupCode, TotpDevice
from tests.api.harness import call, error_of
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD

T0 = 1_800_000_000.0


@pytest.fixture
def clock(monkeypatch):
    """The server's TOTP clock, set to a fixed instant and moved by `advance()`."""

    class Clock:
        now = T0

        def advance(self, seconds: float = 30) -> None:
            self.now += seconds

        def code(self, totp_uri: str) -> str:
            return totp(totp_uri).at(self.now)

    instance = Clock()
    monkeypatch.setattr(mfa, "clock", lambda: instance.now)
    return instance


def totp(uri: str) -> pyotp.TOTP:
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    return pyotp.TOTP(parse_qs(parsed.query)["secret"][0])


def secret_of(uri: str) -> str:
    return parse_qs(urlparse(uri).query)["secret"][0]


def headers_of(answer: dict) -> dict:
    return {"HTTP_X_SORACOM_API_KEY": answer["apiKey"], "HTTP_X_SORACOM_TOKEN": answer["token"]}


def auth(**body):
    return Client().post("/v1/auth", body, content_type="application/json")


def root_path(root, tail=""):
    return f"/v1/operators/{root.operator_id}/mfa{tail}"


def user_path(user, tail=""):
    return f"/v1/operators/{user.operator_id}/users/{user.user_name}/mfa{tail}"


def enrol_root(root, root_api, clock) -> tuple[str, list[str]]:
    uri = call("POST", root_path(root), root_api).json()["totpUri"]
    response = call("POST", root_path(root, "/verify"), root_api, {"mfaOTPCode": clock.code(uri)})
    assert response.status_code == 200, response.content
    return uri, response.json()["backupCodes"]


# Enable, verify, status ---------------------------------------------------------------


def test_it_answers_inactive_before_enrolment(root, root_api):
    assert call("GET", root_path(root), root_api).json() == {"status": "INACTIVE"}


def test_it_enables_root_mfa_unconfirmed_with_a_totp_uri(root, root_api):
    response = call("POST", root_path(root), root_api)
    assert response.status_code == 200
    uri = response.json()["totpUri"]
    assert uri.startswith("otpauth://totp/")
    assert "issuer=Latchkey" in uri
    assert len(secret_of(uri)) == 32
    assert call("GET", root_path(root), root_api).json() == {"status": "UNCONFIRMED"}
    assert TotpDevice.objects.get(principal=root).status == "UNCONFIRMED"


def test_it_stores_the_secret_sealed_not_in_clear(root, root_api):
    uri = call("POST", root_path(root), root_api).json()["totpUri"]
    device = TotpDevice.objects.get(principal=root)
    secret = secret_of(uri).encode()
    assert secret not in bytes(device.ciphertext)
    assert secret not in bytes(device.wrapped_key)
    assert device.master_key_id


def test_it_keeps_auth_without_code_until_verified(root, root_api):
    call("POST", root_path(root), root_api)
    assert auth(email=root.email, password=ROOT_PASSWORD).status_code == 200


def test_it_verifies_with_a_code_and_returns_ten_single_use_backup_codes(root, root_api, clock):
    _uri, codes = enrol_root(root, root_api, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert call("GET", root_path(root), root_api).json() == {"status": "ACTIVE"}
    stored = list(BackupCode.objects.filter(principal=root).values_list("code_hash", flat=True))
    assert len(stored) == 10
    assert not set(codes) & set(stored)
    assert not any(c.replace("-", "") in h for c in codes for h in stored)


def test_it_refuses_a_wrong_verify_code_and_stays_unconfirmed(root, root_api, clock):
    uri = call("POST", root_path(root), root_api).json()["totpUri"]
    good = clock.code(uri)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = call("POST", root_path(root, "/verify"), root_api, {"mfaOTPCode": wrong})
    assert response.status_code == 400
    assert error_of(response)["code"] == "LKY0400"
    assert TotpDevice.objects.get(principal=root).status == "UNCONFIRMED"
    assert not BackupCode.objects.filter(principal=root).exists()
    failed = AuditEntry.objects.filter(action="Operator:verifyMFA", outcome="failed")
    assert failed.count() == 1


def test_it_refuses_verify_without_enrolment(root, root_api):
    response = call("POST", root_path(root, "/verify"), root_api, {"mfaOTPCode": "123456"})
    assert response.status_code == 400
    assert not TotpDevice.objects.exists()


def test_it_refuses_to_enable_again_once_active(root, root_api, clock):
    enrol_root(root, root_api, clock)
    before = bytes(TotpDevice.objects.get(principal=root).ciphertext)
    response = call("POST", root_path(root), root_api)
    assert response.status_code == 400
    device = TotpDevice.objects.get(principal=root)
    assert device.status == "ACTIVE" and bytes(device.ciphertext) == before


# /auth with MFA active ----------------------------------------------------------------


@pytest.fixture
def root_enrolled(root, root_api, clock):
    uri, codes = enrol_root(root, root_api, clock)
    clock.advance()
    return uri, codes


def test_it_refuses_auth_without_a_code_once_active(root, root_enrolled):
    response = auth(email=root.email, password=ROOT_PASSWORD)
    assert response.status_code == 401
    assert response.json() == {"code": "LKY0401", "message": "Authentication failed."}


def test_it_refuses_auth_with_a_wrong_code_like_a_wrong_password(root, root_enrolled, clock):
    good = clock.code(root_enrolled[0])
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    bad_code = auth(email=root.email, password=ROOT_PASSWORD, mfaOTPCode=wrong)
    bad_password = auth(email=root.email, password="wrong-Password-1", mfaOTPCode=good)
    assert bad_code.status_code == bad_password.status_code == 401
    assert bad_code.content == bad_password.content
    entry = AuditEntry.objects.filter(action="Auth:auth", outcome="failed").order_by("seq")
    assert entry.first().details.get("secondFactor") == "failed"


def test_it_accepts_auth_with_the_code_and_marks_the_session(root, root_enrolled, clock):
    response = auth(
        email=root.email, password=ROOT_PASSWORD, mfaOTPCode=clock.code(root_enrolled[0])
    )
    assert response.status_code == 200
    session = ApiSession.objects.get(api_key=response.json()["apiKey"])
    assert session.second_factor is True


def test_it_refuses_a_replayed_code(root, root_enrolled, clock):
    code = clock.code(root_enrolled[0])
    assert auth(email=root.email, password=ROOT_PASSWORD, mfaOTPCode=code).status_code == 200
    again = auth(email=root.email, password=ROOT_PASSWORD, mfaOTPCode=code)
    assert again.status_code == 401


def test_it_refuses_an_older_code_after_a_newer_one(root, root_enrolled, clock):
    older = clock.code(root_enrolled[0])
    clock.advance()
    newer = clock.code(root_enrolled[0])
    assert auth(email=root.email, password=ROOT_PASSWORD, mfaOTPCode=newer).status_code == 200
    assert auth(email=root.email, password=ROOT_PASSWORD, mfaOTPCode=older).status_code == 401


def test_it_refuses_a_code_from_two_steps_ago(root, root_enrolled, clock):
    old = clock.code(root_enrolled[0])
    clock.advance(60)
    assert auth(email=root.email, password=ROOT_PASSWORD, mfaOTPCode=old).status_code == 401


def test_it_counts_wrong_codes_in_the_sign_in_throttle(root, root_enrolled, clock, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 3
    for _ in range(3):
        assert auth(email=root.email, password=ROOT_PASSWORD, mfaOTPCode="000000").status_code in (
            401,
        ) or pytest.fail("a wrong code must fail")
    right = auth(email=root.email, password=ROOT_PASSWORD, mfaOTPCode=clock.code(root_enrolled[0]))
    assert right.status_code == 429
    assert right["Retry-After"]


def test_it_never_asks_an_authkey_exchange_for_a_code(root, root_api, root_enrolled):
    key = call("POST", f"/v1/operators/{root.operator_id}/auth_keys", root_api).json()
    response = auth(authKeyId=key["authKeyId"], authKey=key["authKey"])
    assert response.status_code == 200
    assert ApiSession.objects.get(api_key=response.json()["apiKey"]).second_factor is False


def test_it_ends_other_sessions_when_mfa_becomes_active(root, root_api, clock):
    other = auth(email=root.email, password=ROOT_PASSWORD).json()
    enrol_root(root, root_api, clock)
    me = call("GET", root_path(root), root_api)
    them = call("GET", root_path(root), headers_of(other))
    assert me.status_code == 200
    assert them.status_code == 401


# Revoke -------------------------------------------------------------------------------


def test_it_revokes_root_mfa_with_the_password(root, root_api, root_enrolled):
    response = call("DELETE", root_path(root), root_api, {"password": ROOT_PASSWORD})
    assert response.status_code == 204
    assert not TotpDevice.objects.filter(principal=root).exists()
    assert not BackupCode.objects.filter(principal=root).exists()
    assert auth(email=root.email, password=ROOT_PASSWORD).status_code == 200
    assert AuditEntry.objects.filter(action="Operator:revokeMFA", outcome="allowed").count() == 1


def test_it_refuses_revoke_with_a_wrong_password(root, root_api, root_enrolled):
    response = call("DELETE", root_path(root), root_api, {"password": "wrong-Password-1"})
    assert response.status_code == 400
    assert TotpDevice.objects.get(principal=root).status == "ACTIVE"
    assert AuditEntry.objects.filter(action="Operator:revokeMFA", outcome="failed").count() == 1


def test_it_refuses_revoke_without_a_password_from_a_session_without_second_factor(
    root, root_api, root_enrolled
):
    response = call("DELETE", root_path(root), root_api)
    assert response.status_code == 400
    assert TotpDevice.objects.get(principal=root).status == "ACTIVE"


def test_it_revokes_without_a_body_from_a_session_opened_with_the_code(root, root_enrolled, clock):
    answer = auth(email=root.email, password=ROOT_PASSWORD, mfaOTPCode=clock.code(root_enrolled[0]))
    response = call("DELETE", root_path(root), headers_of(answer.json()))
    assert response.status_code == 204
    assert not TotpDevice.objects.filter(principal=root).exists()


def test_it_refuses_root_mfa_operations_to_a_sam_user_allowed_everything(root, alice, alice_api):
    from accounts.permissions import dumps

    alice.inline_permission = dumps([{"effect": "allow", "api": "*"}])
    alice.save()
    alice.operator.bump_policy_version()
    for method, tail in (("POST", ""), ("GET", ""), ("POST", "/verify"), ("DELETE", "")):
        body = {"mfaOTPCode": "123456"} if tail else None
        assert call(method, root_path(root, tail), alice_api, body).status_code == 403
    assert not TotpDevice.objects.exists()


# SAM users ----------------------------------------------------------------------------


def test_it_drives_a_sam_users_mfa_from_enable_to_revoke(root, root_api, alice, clock):
    uri = call("POST", user_path(alice), root_api).json()["totpUri"]
    assert "Latchkey" in uri
    verify = call("POST", user_path(alice, "/verify"), root_api, {"mfaOTPCode": clock.code(uri)})
    assert verify.status_code == 204 and verify.content == b""
    assert call("GET", user_path(alice), root_api).json() == {"status": "ACTIVE"}
    clock.advance()
    creds = {"operatorId": alice.operator_id, "userName": "alice", "password": SAM_PASSWORD}
    assert auth(**creds).status_code == 401
    assert auth(**creds, mfaOTPCode=clock.code(uri)).status_code == 200
    assert call("DELETE", user_path(alice), root_api).status_code == 204
    assert call("GET", user_path(alice), root_api).json() == {"status": "INACTIVE"}
    assert auth(**creds).status_code == 200


def test_it_lets_a_sam_user_with_revoke_permission_revoke_anothers_mfa(
    root, root_api, alice, alice_api, operator, clock
):
    from accounts.models import Principal
    from accounts.permissions import dumps

    bob = Principal.objects.create_sam_user(operator, "bob")
    uri = call("POST", user_path(bob), root_api).json()["totpUri"]
    call("POST", user_path(bob, "/verify"), root_api, {"mfaOTPCode": clock.code(uri)})
    assert call("DELETE", user_path(bob), alice_api).status_code == 403
    alice.inline_permission = dumps([{"effect": "allow", "api": "User:revokeUserMFA"}])
    alice.save()
    operator.bump_policy_version()
    assert call("DELETE", user_path(bob), alice_api).status_code == 204
    assert not TotpDevice.objects.filter(principal=bob).exists()


def test_it_answers_404_for_another_tenants_user(root, outsider_api, alice):
    response = call("GET", user_path(alice), outsider_api)
    assert response.status_code == 404


# Revoking token (a lost device) -------------------------------------------------------

ISSUE = "/v1/operators/mfa_revoke_token/issue"
VERIFY = "/v1/operators/mfa_revoke_token/verify"


def _post(path, body):
    return Client().post(path, body, content_type="application/json")


def _mailed_token(mailbox) -> str:
    import re

    assert len(mailbox) == 1
    return re.search(r"\n\n([A-Za-z0-9_-]{40,})\n\n", mailbox[0].body).group(1)


def test_it_mails_a_revoking_token_and_removes_mfa_with_a_backup_code(
    root, root_enrolled, mailoutbox
):
    creds = {"email": root.email, "password": ROOT_PASSWORD}
    issued = _post(ISSUE, creds)
    assert issued.status_code == 200
    assert mailoutbox[0].to == [root.email]
    token = _mailed_token(mailoutbox)
    from security.models import MfaRevokeToken

    assert token not in MfaRevokeToken.objects.get().token_hash
    done = _post(VERIFY, {**creds, "token": token, "backupCode": root_enrolled[1][0]})
    assert done.status_code == 200
    assert not TotpDevice.objects.filter(principal=root).exists()
    assert auth(email=root.email, password=ROOT_PASSWORD).status_code == 200


def test_it_refuses_a_revoking_token_twice(root, root_enrolled, mailoutbox):
    creds = {"email": root.email, "password": ROOT_PASSWORD}
    _post(ISSUE, creds)
    token = _mailed_token(mailoutbox)
    wrong_code = _post(VERIFY, {**creds, "token": token, "backupCode": "2222-2222-2222"})
    assert wrong_code.status_code == 400
    assert TotpDevice.objects.get(principal=root).status == "ACTIVE"
    # A wrong backup code spent nothing: the token still works once, then never again.
    codes = root_enrolled[1]
    assert _post(VERIFY, {**creds, "token": token, "backupCode": codes[0]}).status_code == 200
    again = _post(VERIFY, {**creds, "token": token, "backupCode": codes[1]})
    assert again.status_code == 400


def test_it_refuses_an_expired_revoking_token(root, root_enrolled, mailoutbox):
    from security.models import MfaRevokeToken

    creds = {"email": root.email, "password": ROOT_PASSWORD}
    _post(ISSUE, creds)
    token = _mailed_token(mailoutbox)
    from django.utils import timezone

    MfaRevokeToken.objects.update(expires_at=timezone.now())
    done = _post(VERIFY, {**creds, "token": token, "backupCode": root_enrolled[1][0]})
    assert done.status_code == 400
    assert TotpDevice.objects.get(principal=root).status == "ACTIVE"
    assert BackupCode.objects.filter(principal=root, used_at__isnull=False).count() == 0


def test_it_refuses_a_revoking_token_without_the_password(root, root_enrolled, mailoutbox):
    response = _post(ISSUE, {"email": root.email, "password": "wrong-Password-1"})
    assert response.status_code == 401
    assert mailoutbox == []
