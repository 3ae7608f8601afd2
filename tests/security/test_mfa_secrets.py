"""Canaries for the second factor's secrets: the TOTP secret and the backup codes appear
only on the one answer that first showed them (docs/testing.md, tests/canary.py).

Six-digit codes are shorter than a canary window: that they are never stored is shown by
the design (only the time step of the last accepted code is kept, tests/api/test_mfa_api.py).
"""

import re

import pyotp
import pytest
from django.test import Client

from security import mfa
from tests.api.harness import call
from tests.api.test_mfa_api import T0, secret_of
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD
from tests.security.test_login import _root_login


@pytest.fixture
def clock(monkeypatch):
    moment = {"t": T0}
    monkeypatch.setattr(mfa, "clock", lambda: moment["t"])
    return moment


def _auth(**body):
    return Client().post("/v1/auth", body, content_type="application/json")


def test_the_api_shows_the_secret_and_backup_codes_only_once(canary, root, root_api, clock):
    path = f"/v1/operators/{root.operator_id}/mfa"
    enabled = call("POST", path, root_api)
    secret = canary.add(secret_of(enabled.json()["totpUri"]), label="TOTP", shown_in=enabled)
    totp = pyotp.TOTP(secret)
    wrong = call("POST", path + "/verify", root_api, {"mfaOTPCode": "000000"})
    assert wrong.status_code == 400
    verified = call("POST", path + "/verify", root_api, {"mfaOTPCode": totp.at(clock["t"])})
    for code in verified.json()["backupCodes"]:
        canary.add(code, label="backup code", shown_in=verified)
    clock["t"] += 30
    assert _auth(email=root.email, password=ROOT_PASSWORD).status_code == 401
    signed = _auth(email=root.email, password=ROOT_PASSWORD, mfaOTPCode=totp.at(clock["t"]))
    assert signed.status_code == 200
    assert call("GET", path, root_api).json() == {"status": "ACTIVE"}
    canary.assert_nowhere(revisit=root)


def test_a_sam_users_secret_is_shown_only_by_enable(canary, root, root_api, alice, clock):
    path = f"/v1/operators/{alice.operator_id}/users/alice/mfa"
    enabled = call("POST", path, root_api)
    secret = canary.add(secret_of(enabled.json()["totpUri"]), label="TOTP", shown_in=enabled)
    code = pyotp.TOTP(secret).at(clock["t"])
    assert call("POST", path + "/verify", root_api, {"mfaOTPCode": code}).status_code == 204
    clock["t"] += 30
    creds = {"operatorId": alice.operator_id, "userName": "alice", "password": SAM_PASSWORD}
    assert _auth(**creds, mfaOTPCode=pyotp.TOTP(secret).at(clock["t"])).status_code == 200
    canary.assert_nowhere(revisit=root)


def test_the_console_shows_the_secret_and_backup_codes_only_once(canary, root, clock):
    client = Client()
    client.force_login(root)
    page = client.post("/security/account/mfa/enable")
    found = re.search(r'id="mfa-secret"[^>]*>([A-Z2-7]{32})<', page.content.decode())
    secret = canary.add(found.group(1), label="TOTP", shown_in=page)
    wrong = client.post("/security/account/mfa/verify", {"code": "000000"})
    assert wrong.status_code == 400
    done = client.post("/security/account/mfa/verify", {"code": pyotp.TOTP(secret).at(clock["t"])})
    block = re.search(r'<pre id="backup-codes"[^>]*>(.*?)</pre>', done.content.decode(), re.S)
    codes = block.group(1).split()
    assert len(codes) == 10
    for code in codes:
        canary.add(code, label="backup code", shown_in=done)
    client.get("/security/account/mfa/")
    # Sign in again with a backup code, then try it once more (refused).
    other = Client()
    _root_login(other, root.email, ROOT_PASSWORD)
    assert other.post("/login/verify/", {"code": codes[0]}).status_code == 302
    again = Client()
    _root_login(again, root.email, ROOT_PASSWORD)
    assert again.post("/login/verify/", {"code": codes[0]}).status_code == 400
    canary.assert_nowhere(revisit=root)


def test_the_revoking_token_is_only_in_its_mail(canary, root, root_api, clock, mailoutbox):
    path = f"/v1/operators/{root.operator_id}/mfa"
    enabled = call("POST", path, root_api)
    secret = canary.add(secret_of(enabled.json()["totpUri"]), label="TOTP", shown_in=enabled)
    verified = call(
        "POST", path + "/verify", root_api, {"mfaOTPCode": pyotp.TOTP(secret).at(clock["t"])}
    )
    codes = verified.json()["backupCodes"]
    for code in codes:
        canary.add(code, label="backup code", shown_in=verified)
    creds = {"email": root.email, "password": ROOT_PASSWORD}
    issue = "/v1/operators/mfa_revoke_token/issue"
    assert Client().post(issue, creds, content_type="application/json").status_code == 200
    mail = mailoutbox[0]
    token = re.search(r"\n\n([A-Za-z0-9_-]{40,})\n\n", mail.body).group(1)
    canary.add(token, label="revoking token", shown_in=mail)
    for secret_value in (secret, *codes):
        assert secret_value not in mail.body
    done = Client().post(
        "/v1/operators/mfa_revoke_token/verify",
        {**creds, "token": token, "backupCode": codes[0]},
        content_type="application/json",
    )
    assert done.status_code == 200
    canary.assert_nowhere(revisit=root)
