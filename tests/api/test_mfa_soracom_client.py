"""The published `soracom-api` 0.0.2 client drives TOTP MFA: enable, verify, /auth needs the
code, revoke; for the root account and for a SAM user (soracom-api.md §4.10).

Codes come from pyotp with the secret of the `totpUri` the client received; the server's
TOTP clock is fixed and moved a step at a time, so every code is fresh.
"""

import pytest

from accounts.models import ApiSession
from security.models import TotpDevice
from tests.api.test_mfa_api import T0, totp
from tests.api.test_soracom_client import (  # noqa: F401 (fixtures)
    model,
    ok,
    operator_call,
    root_auth,
    run,
    soracom_python,
    user_call,
)
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def now(monkeypatch):
    from security import mfa

    moment = {"t": T0}
    monkeypatch.setattr(mfa, "clock", lambda: moment["t"])
    return moment


def code(uri: str, now: dict) -> str:
    return totp(uri).at(now["t"])


def test_the_client_drives_root_mfa_from_enable_to_revoke(run, root, now):  # noqa: F811
    enabled = run(root_auth(root), operator_call("enable_mfa"))
    uri = ok(enabled[1])["totp_uri"]
    assert uri.startswith("otpauth://totp/")
    verified = run(
        root_auth(root),
        operator_call(
            "verify_mfa",
            mfa_authentication_request=model(
                "MFAAuthenticationRequest", mfa_otp_code=code(uri, now)
            ),
        ),
        operator_call("get_mfa_status"),
    )
    assert len(ok(verified[1])["backup_codes"]) == 10
    assert ok(verified[2])["status"] == "ACTIVE"
    now["t"] += 30
    without = run(root_auth(root))[0]
    assert without["exception"] == "UnauthorizedException"
    assert without["body"] == {"code": "LKY0401", "message": "Authentication failed."}
    with_code = {
        "auth": {"email": root.email, "password": ROOT_PASSWORD, "mfa_otp_code": code(uri, now)}
    }
    revoked = run(with_code, operator_call("revoke_mfa"), operator_call("get_mfa_status"))
    assert ok(revoked[0])["operator_id"] == root.operator_id
    assert revoked[1]["ok"], revoked[1]
    assert ok(revoked[2])["status"] == "INACTIVE"
    assert not TotpDevice.objects.filter(principal=root).exists()
    assert ok(run(root_auth(root))[0])["operator_id"] == root.operator_id


def test_the_client_drives_a_sam_users_mfa_from_enable_to_revoke(run, root, alice, now):  # noqa: F811
    enabled = run(root_auth(root), user_call("enable_user_mfa", user_name="alice"))
    uri = ok(enabled[1])["totp_uri"]
    verified = run(
        root_auth(root),
        user_call(
            "verify_user_mfa",
            user_name="alice",
            mfa_authentication_request=model(
                "MFAAuthenticationRequest", mfa_otp_code=code(uri, now)
            ),
        ),
        user_call("get_user_mfa_status", user_name="alice"),
    )
    assert verified[1]["ok"], verified[1]
    assert ok(verified[2])["status"] == "ACTIVE"
    now["t"] += 30
    sam = {"operator_id": alice.operator_id, "user_name": "alice", "password": SAM_PASSWORD}
    without = run({"auth": sam})[0]
    assert without["exception"] == "UnauthorizedException"
    signed = ok(run({"auth": {**sam, "mfa_otp_code": code(uri, now)}})[0])
    assert ApiSession.objects.get(api_key=signed["api_key"]).second_factor is True
    revoked = run(root_auth(root), user_call("revoke_user_mfa", user_name="alice"))
    assert revoked[1]["ok"], revoked[1]
    assert not TotpDevice.objects.filter(principal=alice).exists()
    assert ok(run({"auth": sam})[0])["user_name"] == "alice"
