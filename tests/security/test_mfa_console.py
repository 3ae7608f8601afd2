"""The console's second step and MFA enrolment (security/views_signin.py, views_mfa.py)."""

import re
import time

import pytest
from django.test import Client

from accounts.context import SECOND_FACTOR_SESSION_KEY
from accounts.models import Operator
from security import mfa, second_step
from security.models import AuditEntry, BackupCode, TotpDevice
from tests.api.test_mfa_api import T0, totp
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD
from tests.security.test_login import _root_login, _sam_login


@pytest.fixture
def clock(monkeypatch):
    moment = {"t": T0}
    monkeypatch.setattr(mfa, "clock", lambda: moment["t"])
    return moment


def _enrol(actor, subject, clock) -> tuple[str, list[str]]:
    api = "Operator:enableMFA" if subject.is_root else "User:enableUserMFA"
    uri = mfa.enable(None, actor, subject, api)
    codes = mfa.verify(
        None, actor, subject, totp(uri).at(clock["t"]), api.replace("enable", "verify")
    )
    clock["t"] += 30
    return uri, codes


def _code(uri, clock) -> str:
    return totp(uri).at(clock["t"])


# The second step ----------------------------------------------------------------------


def test_it_signs_in_without_a_second_step_when_mfa_is_off(root):
    client = Client()
    response = _root_login(client, root.email, ROOT_PASSWORD)
    assert response.url == "/"
    assert client.session.get("_auth_user_id")


def test_it_asks_for_the_code_after_a_right_password(root, clock):
    _enrol(root, root, clock)
    client = Client()
    response = _root_login(client, root.email, ROOT_PASSWORD)
    assert response.status_code == 302 and response.url == "/login/verify/"
    assert "_auth_user_id" not in client.session
    assert b"Confirm it is you" in client.get("/login/verify/").content


def test_it_reaches_no_page_in_the_half_signed_in_state(root, clock):
    _enrol(root, root, clock)
    client = Client()
    _root_login(client, root.email, ROOT_PASSWORD)
    for path in ("/security/users/", "/security/account/mfa/", "/security/authkeys/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith("/login/"), path


def test_it_signs_in_with_the_code_and_marks_the_session(root, clock):
    uri, _ = _enrol(root, root, clock)
    client = Client()
    _root_login(client, root.email, ROOT_PASSWORD)
    response = client.post("/login/verify/", {"code": _code(uri, clock)})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == root.pk
    assert client.session[SECOND_FACTOR_SESSION_KEY] is True
    assert client.get("/security/users/").status_code == 200
    entry = AuditEntry.objects.filter(action="Console:signIn", outcome="allowed").last()
    assert entry.details["secondFactor"] == "totp"


def test_it_refuses_a_wrong_code_and_audits_it(root, clock):
    uri, _ = _enrol(root, root, clock)
    client = Client()
    _root_login(client, root.email, ROOT_PASSWORD)
    wrong = f"{(int(_code(uri, clock)) + 1) % 1_000_000:06d}"
    response = client.post("/login/verify/", {"code": wrong})
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session
    failed = AuditEntry.objects.filter(action="Console:signIn", outcome="failed").last()
    assert failed.details["secondFactor"] == "failed"


def test_it_refuses_a_replayed_code_in_the_console(root, clock):
    uri, _ = _enrol(root, root, clock)
    code = _code(uri, clock)
    first = Client()
    _root_login(first, root.email, ROOT_PASSWORD)
    assert first.post("/login/verify/", {"code": code}).status_code == 302
    second = Client()
    _root_login(second, root.email, ROOT_PASSWORD)
    assert second.post("/login/verify/", {"code": code}).status_code == 400
    assert "_auth_user_id" not in second.session


def test_it_signs_in_with_a_backup_code_once(root, clock):
    _uri, codes = _enrol(root, root, clock)
    client = Client()
    _root_login(client, root.email, ROOT_PASSWORD)
    assert client.post("/login/verify/", {"code": codes[0].upper()}).status_code == 302
    assert BackupCode.objects.filter(principal=root, used_at__isnull=False).count() == 1
    assert AuditEntry.objects.filter(action="Console:useBackupCode").count() == 1
    again = Client()
    _root_login(again, root.email, ROOT_PASSWORD)
    assert again.post("/login/verify/", {"code": codes[0]}).status_code == 400
    assert "_auth_user_id" not in again.session


def test_it_drops_the_half_signed_in_state_after_five_wrong_codes(root, clock):
    _enrol(root, root, clock)
    client = Client()
    _root_login(client, root.email, ROOT_PASSWORD)
    for _ in range(second_step.MAX_TRIES - 1):
        assert client.post("/login/verify/", {"code": "abcd-efgh-jkmn"}).status_code == 400
    response = client.post("/login/verify/", {"code": "abcd-efgh-jkmn"})
    assert response.status_code == 302 and response.url == "/login/"
    assert second_step.SESSION_KEY not in client.session


def test_it_expires_the_half_signed_in_state(root, clock, monkeypatch):
    uri, _ = _enrol(root, root, clock)
    client = Client()
    _root_login(client, root.email, ROOT_PASSWORD)
    later = time.time() + second_step.PENDING_SECONDS + 1
    monkeypatch.setattr(second_step.time, "time", lambda: later)
    response = client.post("/login/verify/", {"code": _code(uri, clock)})
    assert response.status_code == 302 and response.url == "/login/"
    assert "_auth_user_id" not in client.session


def test_it_binds_the_half_signed_in_state_to_the_browser(root, clock):
    uri, _ = _enrol(root, root, clock)
    client = Client()
    _root_login(client, root.email, ROOT_PASSWORD)
    stranger = Client()
    response = stranger.post("/login/verify/", {"code": _code(uri, clock)})
    assert response.status_code == 302 and response.url == "/login/"
    assert "_auth_user_id" not in stranger.session


def test_it_counts_wrong_codes_in_the_sign_in_throttle(root, clock, settings):
    settings.LATCHKEY_THROTTLE_PER_ACCOUNT_AND_IP = 2
    _enrol(root, root, clock)
    for _ in range(2):
        client = Client()
        _root_login(client, root.email, ROOT_PASSWORD)
        client.post("/login/verify/", {"code": "000000"})
    client = Client()
    response = _root_login(client, root.email, ROOT_PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_asks_a_sam_user_with_mfa_for_the_code(alice, root, clock):
    uri, _ = _enrol(root, alice, clock)
    client = Client()
    assert _sam_login(client, alice.operator_id, "alice", SAM_PASSWORD).url == "/login/verify/"
    assert client.post("/login/verify/", {"code": _code(uri, clock)}).status_code == 302
    assert int(client.session["_auth_user_id"]) == alice.pk


def test_it_refuses_a_sam_user_without_a_second_factor_when_the_operator_requires_one(alice):
    Operator.objects.filter(pk=alice.operator_id).update(require_sam_console_mfa=True)
    client = Client()
    response = _sam_login(client, alice.operator_id, "alice", SAM_PASSWORD)
    assert response.url == "/login/verify/"
    page = client.get("/login/verify/")
    assert page.status_code == 403
    assert b"requires a second factor" in page.content
    assert "_auth_user_id" not in client.session
    failed = AuditEntry.objects.filter(action="Console:signIn", outcome="failed").last()
    assert failed.details["secondFactor"] == "required"


def test_it_leaves_root_alone_when_sam_users_are_required_mfa(root):
    Operator.objects.filter(pk=root.operator_id).update(require_sam_console_mfa=True)
    client = Client()
    assert _root_login(client, root.email, ROOT_PASSWORD).url == "/"


# Enrolment ----------------------------------------------------------------------------


def _secret_on(page: bytes) -> str:
    found = re.search(rb'id="mfa-secret"[^>]*>([A-Z2-7]{32})<', page)
    assert found, page[:2000]
    return found.group(1).decode()


def test_it_enrols_root_from_the_account_page(root, root_client, clock):
    page = root_client.post("/security/account/mfa/enable")
    assert page.status_code == 200
    assert b"<svg" in page.content and b"<img" not in page.content
    secret = _secret_on(page.content)
    import pyotp

    done = root_client.post(
        "/security/account/mfa/verify", {"code": pyotp.TOTP(secret).at(clock["t"])}
    )
    assert done.status_code == 200
    block = re.search(rb'<pre id="backup-codes"[^>]*>(.*?)</pre>', done.content, re.S).group(1)
    shown = re.findall(rb"[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}", block)
    assert len(set(shown)) == 10
    assert TotpDevice.objects.get(principal=root).status == "ACTIVE"
    assert root_client.get("/security/account/mfa/").status_code == 200
    assert b"MFA active" in root_client.get("/security/account/mfa/").content


def test_it_refuses_a_wrong_enrolment_code_and_keeps_mfa_off(root, root_client, clock):
    root_client.post("/security/account/mfa/enable")
    response = root_client.post("/security/account/mfa/verify", {"code": "000000"})
    assert response.status_code == 400
    assert TotpDevice.objects.get(principal=root).status == "UNCONFIRMED"


def test_it_lets_root_enrol_a_sam_user_from_the_users_page(root_client, alice, clock):
    page = root_client.post("/security/users/alice/mfa/enable")
    secret = _secret_on(page.content)
    import pyotp

    done = root_client.post(
        "/security/users/alice/mfa/verify", {"code": pyotp.TOTP(secret).at(clock["t"])}
    )
    assert done.status_code == 200
    assert TotpDevice.objects.get(principal=alice).status == "ACTIVE"
    listing = root_client.get("/security/users/").content.decode()
    assert re.search(
        r'alice</a>.*?data-col="mfa"[^>]*><span class="badge ok">active', listing, re.S
    )


def test_it_removes_root_mfa_with_the_password(root, clock):
    _enrol(root, root, clock)  # ends every session: sign in afterwards
    root_client = Client()
    root_client.force_login(root)
    wrong = root_client.post("/security/account/mfa/revoke", {"password": "wrong-Password-1"})
    assert wrong.status_code == 302
    assert TotpDevice.objects.filter(principal=root).exists()
    root_client.post("/security/account/mfa/revoke", {"password": ROOT_PASSWORD})
    assert not TotpDevice.objects.filter(principal=root).exists()


def test_it_saves_the_sam_console_requirement(root, root_client):
    root_client.post("/security/account/mfa/requirement", {"require_sam": "on"})
    assert Operator.objects.get(pk=root.operator_id).require_sam_console_mfa is True
    root_client.post("/security/account/mfa/requirement", {})
    assert Operator.objects.get(pk=root.operator_id).require_sam_console_mfa is False
    assert AuditEntry.objects.filter(action="Operator:updateMFARequirement").count() == 2


def test_it_keeps_the_console_session_that_turned_mfa_on(root, root_client, clock):
    page = root_client.post("/security/account/mfa/enable")
    secret = _secret_on(page.content)
    import pyotp

    root_client.post("/security/account/mfa/verify", {"code": pyotp.TOTP(secret).at(clock["t"])})
    assert root_client.get("/security/users/").status_code == 200


def test_it_shows_mfa_active_in_the_credential_report(root, root_client, alice, clock):
    _enrol(root, alice, clock)
    response = root_client.get("/security/reports/credentials.csv")
    csv = b"".join(getattr(response, "streaming_content", [response.content])).decode()
    header, *rows = csv.strip().splitlines()
    column = header.split(",").index("mfa_active")
    by_name = {r.split(",")[0]: r.split(",")[column] for r in rows}
    assert by_name["alice"] == "true"
    assert by_name["<root>"] == "false"


def test_it_rotates_the_totp_secret_to_the_newest_master_key(root, clock, settings):
    from django.core.management import call_command

    from tests.security.test_crypto import key_entry

    uri, _ = _enrol(root, root, clock)
    old = TotpDevice.objects.get(principal=root).master_key_id
    settings.LATCHKEY_MASTER_KEYS = key_entry("k2") + "," + settings.LATCHKEY_MASTER_KEYS
    call_command("rotate_master_key")
    assert TotpDevice.objects.get(principal=root).master_key_id == "k2" != old
    settings.LATCHKEY_MASTER_KEYS = settings.LATCHKEY_MASTER_KEYS.split(",")[0]  # retire it
    assert mfa.accept_code(root, _code(uri, clock))
