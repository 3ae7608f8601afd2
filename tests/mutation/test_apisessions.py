"""API sessions (accounts/apisessions.py), called directly: what a session row and its
token hold, which requests authenticate, and what each revocation ends. The HTTP-level
rules are in tests/accounts/test_session_rules.py and tests/api/test_tokens.py."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.utils import timezone

from accounts import apisessions, tokens
from accounts.models import ApiSession
from security import authkeys
from security.models import AuthKey


class Clock:
    def __init__(self) -> None:
        self.now = timezone.now().replace(microsecond=0)

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(apisessions, "_now", clock)
    return clock


def request(token: str = "", api_key: str = "", **meta):
    headers = dict(meta)
    if token:
        headers["HTTP_X_SORACOM_TOKEN"] = token
    if api_key:
        headers["HTTP_X_SORACOM_API_KEY"] = api_key
    return RequestFactory().get("/v1/operators", **headers)


def test_it_opens_a_password_session_bound_to_both_epochs(root, clock):
    api_key, _ = apisessions.create_session(root, timeout=600, source_ip="198.51.100.4")
    row = ApiSession.objects.get(api_key=api_key)
    assert api_key.startswith("api-")
    assert (row.principal_id, row.operator_id) == (root.pk, root.operator_id)
    assert (row.auth_key_id, row.opened_by) == ("", ApiSession.OpenedBy.PASSWORD)
    assert (row.session_epoch, row.password_epoch) == (root.session_epoch, root.password_epoch)
    assert row.expires_at == clock.now + timedelta(seconds=600)
    assert row.source_ip == "198.51.100.4"
    assert len(row.jti) == 32


def test_it_opens_an_authkey_session_bound_to_the_session_epoch_only(alice, clock):
    api_key, _ = apisessions.create_session(alice, timeout=600, auth_key_id="keyId-1")
    row = ApiSession.objects.get(api_key=api_key)
    assert (row.auth_key_id, row.opened_by) == ("keyId-1", ApiSession.OpenedBy.AUTHKEY)
    assert (row.session_epoch, row.password_epoch) == (alice.session_epoch, None)


def test_it_signs_the_root_claims(root, clock):
    api_key, token = apisessions.create_session(root, timeout=600)
    claims = tokens.verify(token, int(clock.now.timestamp()))
    row = ApiSession.objects.get(api_key=api_key)
    assert claims == {
        "iss": settings.LATCHKEY_ISSUER,
        "aud": "latchkey-api",
        "sub": f"srn:soracom:{root.operator_id}::Operator:{root.operator_id}",
        "iat": int(clock.now.timestamp()),
        "exp": int(clock.now.timestamp()) + 600,
        "jti": row.jti,
        "operator": {"operatorId": root.operator_id},
    }


def test_it_names_the_sam_user_in_its_claims(alice, clock):
    _, token = apisessions.create_session(alice, timeout=600)
    claims = tokens.verify(token, int(clock.now.timestamp()))
    assert claims["sub"] == f"srn:soracom:{alice.operator_id}::User:alice"
    assert claims["userName"] == "alice"


def test_it_refuses_a_session_for_a_deleted_principal(alice, clock):
    alice.delete()
    with pytest.raises(apisessions.PrincipalGone):
        apisessions.create_session(alice, timeout=600)
    assert not ApiSession.objects.exists()


def live_key(principal) -> str:
    return authkeys.generate(None, principal, principal)[0].key_id


def test_it_authenticates_the_caller_of_a_live_session(alice, clock):
    key_id = live_key(alice)
    api_key, token = apisessions.create_session(alice, timeout=600, auth_key_id=key_id)
    caller = apisessions.authenticate_request(request(token, api_key))
    row = ApiSession.objects.get(api_key=api_key)
    assert caller.principal.pk == alice.pk
    assert caller.principal.user_name == "alice"
    assert (caller.operator_id, caller.api_key, caller.jti) == (alice.operator_id, api_key, row.jti)
    assert (caller.auth_key_id, caller.opened_by) == (key_id, ApiSession.OpenedBy.AUTHKEY)
    assert caller.policy_version == alice.operator.policy_version


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_it_reads_a_bearer_token_without_an_api_key(root, clock, scheme):
    _, token = apisessions.create_session(root, timeout=600)
    caller = apisessions.authenticate_request(request(HTTP_AUTHORIZATION=f"{scheme} {token} "))
    assert caller.principal.pk == root.pk


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Token x"]
)
def test_it_authenticates_nobody_without_a_token(root, clock, authorization):
    apisessions.create_session(root, timeout=600)
    assert apisessions.authenticate_request(request(HTTP_AUTHORIZATION=authorization)) is None


def test_it_prefers_the_soracom_token_header_to_a_bearer(root, clock):
    api_key, token = apisessions.create_session(root, timeout=600)
    found = request(token, api_key, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert apisessions.authenticate_request(found).api_key == api_key


def test_it_refuses_a_token_with_another_sessions_api_key(root, clock):
    _, token = apisessions.create_session(root, timeout=600)
    other, _ = apisessions.create_session(root, timeout=600)
    assert apisessions.authenticate_request(request(token, other)) is None


def test_it_refuses_a_token_that_does_not_verify(root, clock):
    api_key, token = apisessions.create_session(root, timeout=600)
    assert apisessions.authenticate_request(request(token[:-2] + "AA", api_key)) is None


def test_it_refuses_a_session_at_the_second_it_expires(root, clock, monkeypatch):
    api_key, token = apisessions.create_session(root, timeout=600)
    ApiSession.objects.filter(api_key=api_key).update(expires_at=clock.now + timedelta(seconds=1))
    assert apisessions.authenticate_request(request(token, api_key)) is not None
    clock.now += timedelta(seconds=1)
    assert apisessions.authenticate_request(request(token, api_key)) is None


def test_it_refuses_the_session_of_an_authkey_revoked_during_the_exchange(root, clock):
    """The key lost its slot (revoked) but the session row was never marked revoked."""
    key_id = live_key(root)
    api_key, token = apisessions.create_session(root, timeout=600, auth_key_id=key_id)
    assert apisessions.authenticate_request(request(token, api_key)) is not None
    AuthKey.objects.filter(key_id=key_id).update(slot=None, revoked_at=clock.now)
    assert apisessions.authenticate_request(request(token, api_key)) is None


def test_it_refuses_a_session_whose_row_is_gone(root, clock):
    api_key, token = apisessions.create_session(root, timeout=600)
    ApiSession.objects.filter(api_key=api_key).delete()
    assert apisessions.authenticate_request(request(token, api_key)) is None


def test_it_refuses_the_session_of_a_deactivated_principal(root, clock):
    api_key, token = apisessions.create_session(root, timeout=600)
    type(root).objects.filter(pk=root.pk).update(is_active=False)
    assert apisessions.authenticate_request(request(token, api_key)) is None


def test_it_ends_one_session_once(root, clock):
    api_key, token = apisessions.create_session(root, timeout=600)
    other, _ = apisessions.create_session(root, timeout=600)
    assert apisessions.revoke(api_key) == 1
    assert apisessions.revoke(api_key) == 0
    assert ApiSession.objects.get(api_key=api_key).revoked_at == clock.now
    assert ApiSession.objects.get(api_key=other).revoked_at is None
    assert apisessions.authenticate_request(request(token, api_key)) is None


def test_it_ends_every_session_of_a_principal_and_moves_its_epoch(root, alice, clock):
    mine = [apisessions.create_session(root, timeout=600) for _ in range(2)]
    apisessions.create_session(root, timeout=600, auth_key_id="keyId-1")
    theirs, _ = apisessions.create_session(alice, timeout=600)
    epoch = root.session_epoch
    assert apisessions.revoke_for_principal(root) == 3
    root.refresh_from_db()
    assert root.session_epoch == epoch + 1
    assert not ApiSession.objects.filter(principal=root, revoked_at__isnull=True).exists()
    assert ApiSession.objects.get(api_key=theirs).revoked_at is None
    assert apisessions.revoke_for_principal(root) == 0
    assert all(apisessions.authenticate_request(request(t, k)) is None for k, t in mine)


def test_it_ends_the_password_sessions_but_the_callers_own_and_authkey_ones(root, clock):
    own_key, own_token = apisessions.create_session(root, timeout=600)
    other_key, _ = apisessions.create_session(root, timeout=600)
    key_id = live_key(root)
    key_key, key_token = apisessions.create_session(root, timeout=600, auth_key_id=key_id)
    caller_request = request(own_token, own_key)
    caller_request.auth = apisessions.authenticate_request(caller_request)
    epoch = root.password_epoch
    assert apisessions.end_password_sessions(caller_request, root) == 1
    root.refresh_from_db()
    assert root.password_epoch == epoch + 1
    revoked = dict(ApiSession.objects.values_list("api_key", "revoked_at"))
    assert revoked == {own_key: None, other_key: clock.now, key_key: None}
    assert ApiSession.objects.get(api_key=own_key).password_epoch == epoch + 1
    # The caller's own session and the AuthKey session still authenticate.
    assert apisessions.authenticate_request(request(own_token, own_key)) is not None
    assert apisessions.authenticate_request(request(key_token, key_key)) is not None


def test_it_ends_every_password_session_for_another_caller(root, alice, clock):
    own_key, own_token = apisessions.create_session(root, timeout=600)
    caller_request = request(own_token, own_key)
    caller_request.auth = apisessions.authenticate_request(caller_request)
    alice_key, _ = apisessions.create_session(alice, timeout=600)
    assert apisessions.end_password_sessions(caller_request, alice) == 1
    assert ApiSession.objects.get(api_key=alice_key).revoked_at == clock.now
    assert ApiSession.objects.get(api_key=own_key).revoked_at is None


def test_it_ends_every_password_session_without_a_request(root, clock):
    keys = [apisessions.create_session(root, timeout=600)[0] for _ in range(2)]
    assert apisessions.end_password_sessions(None, root) == 2
    assert ApiSession.objects.filter(api_key__in=keys, revoked_at=clock.now).count() == 2


def test_it_ends_the_sessions_of_one_authkey(root, clock):
    one, _ = apisessions.create_session(root, timeout=600, auth_key_id="keyId-1")
    two, _ = apisessions.create_session(root, timeout=600, auth_key_id="keyId-2")
    assert apisessions.revoke_for_auth_key("keyId-1") == 1
    assert apisessions.revoke_for_auth_key("keyId-1") == 0
    assert ApiSession.objects.get(api_key=one).revoked_at == clock.now
    assert ApiSession.objects.get(api_key=two).revoked_at is None
