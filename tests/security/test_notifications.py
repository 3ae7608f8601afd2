"""Security notifications to the root address, read from a real SMTP server (tests/mail.py).

Notifications are queued with transaction.on_commit; these tests run inside a transaction
that never commits, so each flow runs under `django_capture_on_commit_callbacks(execute=True)`,
which runs the callbacks as a commit would.
"""

import logging

import pytest
from django.db import transaction
from django.test import Client

from accounts.models import Principal
from security import authkeys, notifications
from security.models import AuditEntry
from tests.api.test_password_reset_api import VERIFY, mailed_code, post
from tests.conftest import ROOT_PASSWORD, SAM_PASSWORD

OP = "/v1/operators/{}"


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a flow queues for after commit, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def subjects(smtp_server) -> list[str]:
    return [m.subject for m in smtp_server.messages]


# --- the events --------------------------------------------------------------------------------


def test_it_mails_root_when_a_root_authkey_is_generated(root, root_api, smtp_server, committed):
    with committed():
        response = Client().post(OP.format(root.operator_id) + "/auth_keys", **root_api)
    assert response.status_code == 201
    (message,) = smtp_server.wait_for(1)
    assert message.to == [root.email]
    assert message.subject == "Latchkey: A root AuthKey was generated"
    assert response.json()["authKeyId"] in message.body
    assert response.json()["authKey"] not in message.raw.decode()


def test_it_mails_nobody_when_a_sam_user_key_is_generated(root, alice, smtp_server, committed):
    with committed():
        authkeys.generate(None, root, alice)
    assert smtp_server.messages == []


def test_it_mails_root_when_the_root_password_is_changed(root, root_api, smtp_server, committed):
    body = {"currentPassword": ROOT_PASSWORD, "newPassword": "changed-Password-321"}
    with committed():
        response = Client().post(
            OP.format(root.operator_id) + "/password", body, "application/json", **root_api
        )
    assert response.status_code == 200
    (message,) = smtp_server.wait_for(1)
    assert message.subject == "Latchkey: The root password was changed"
    assert "changed-Password-321" not in message.raw.decode()


def test_it_mails_nobody_when_a_wrong_current_password_changes_nothing(
    root, root_api, smtp_server, committed
):
    body = {"currentPassword": "wrong-Password-000", "newPassword": "changed-Password-321"}
    with committed():
        response = Client().post(
            OP.format(root.operator_id) + "/password", body, "application/json", **root_api
        )
    assert response.status_code == 400
    assert smtp_server.messages == []


def test_it_mails_root_when_the_password_is_reset(root, smtp_server, committed):
    code = mailed_code(root, smtp_server)
    with committed():
        assert post(VERIFY, {"token": code, "password": "reset-Password-9876"}).status_code == 200
    _reset_mail, notice = smtp_server.wait_for(2)
    assert notice.subject == "Latchkey: The root password was reset"
    assert code not in notice.raw.decode()


def test_it_mails_root_when_support_staff_revoke_a_key(
    root, helpdesk_client, smtp_server, committed
):
    key, secret = authkeys.generate(None, root, root)
    with committed():
        response = helpdesk_client.post(
            f"/staff/authkeys/{key.key_id}/revoke", {"reason": "found in a public gist"}
        )
    assert response.status_code == 302
    (message,) = smtp_server.wait_for(1)
    assert message.subject == "Latchkey: An AuthKey was revoked by support staff"
    assert key.key_id in message.body
    assert "found in a public gist" in message.body
    assert secret not in message.raw.decode()


def _console_sign_in(client: Client, root) -> int:
    data = {"mode": "root", "root-email": root.email, "root-password": ROOT_PASSWORD}
    return client.post("/login/", data, HTTP_USER_AGENT="Firefox/140 (test)").status_code


def test_it_mails_root_at_a_console_sign_in_from_a_new_browser(root, smtp_server, committed):
    with committed():
        assert _console_sign_in(Client(), root) == 302
    (message,) = smtp_server.wait_for(1)
    assert message.subject == "Latchkey: Console sign-in from a new browser"
    assert "Firefox/140 (test)" in message.body
    assert ROOT_PASSWORD not in message.raw.decode()


def test_it_mails_nothing_at_a_second_sign_in_from_the_same_browser(root, smtp_server, committed):
    browser = Client()
    with committed():
        _console_sign_in(browser, root)
        browser.post("/logout/")
        assert _console_sign_in(browser, root) == 302
    assert len(smtp_server.wait_for(1)) == 1
    assert subjects(smtp_server) == ["Latchkey: Console sign-in from a new browser"]


def test_it_mails_nobody_at_a_sam_user_sign_in(alice, smtp_server, committed):
    data = {
        "mode": "sam",
        "sam-operator_id": alice.operator_id,
        "sam-user_name": "alice",
        "sam-password": SAM_PASSWORD,
    }
    with committed():
        assert Client().post("/login/", data).status_code == 302
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    "notify, subject",
    [
        (notifications.mfa_enabled, "Latchkey: Multi-factor authentication was enabled"),
        (notifications.mfa_removed, "Latchkey: Multi-factor authentication was removed"),
    ],
    ids=["enabled", "removed"],
)
def test_it_mails_root_when_mfa_changes(root, alice, smtp_server, committed, notify, subject):
    with committed():
        notify(alice, "192.0.2.5")
    (message,) = smtp_server.wait_for(1)
    assert (message.to, message.subject) == ([root.email], subject)
    assert "SAM user alice" in message.body


# --- how they are sent --------------------------------------------------------------------------


def test_it_mails_nothing_when_the_action_rolls_back(root, smtp_server, committed):
    class RolledBack(Exception):
        pass

    with committed(), pytest.raises(RolledBack), transaction.atomic():
        authkeys.generate(None, root, root)
        raise RolledBack
    assert smtp_server.messages == []


def test_it_audits_each_notification_sent_without_its_body(root, smtp_server, committed):
    with committed():
        notifications.root_password_changed(root.operator_id, "192.0.2.5")
    entry = AuditEntry.objects.get(action="Mail:send")
    expected = ("allowed", {"mail": "rootPasswordChanged", "sent": True})
    assert (entry.outcome, entry.details) == expected
    assert root.email not in repr(entry.__dict__)


def test_it_keeps_the_action_when_the_mail_server_is_down(
    root, root_api, settings, committed, caplog
):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},  # nothing listens
        }
    }
    with caplog.at_level(logging.WARNING, logger="latchkey.mail"), committed():
        response = Client().post(OP.format(root.operator_id) + "/auth_keys", **root_api)
    assert response.status_code == 201
    assert authkeys.live_keys(Principal.objects.get(pk=root.pk)).count() == 1
    assert [r.getMessage() for r in caplog.records] == ["mail not sent: ConnectionRefusedError"]
    entry = AuditEntry.objects.get(action="Mail:send")
    assert (entry.outcome, entry.details["sent"]) == ("failed", False)


def test_it_takes_secret_shaped_text_out_of_a_fact(root, smtp_server, committed):
    secret = authkeys.new_secret()
    with committed():
        notifications.authkey_revoked_by_staff(root.operator_id, "keyId-x", "root", secret)
    (message,) = smtp_server.wait_for(1)
    assert secret not in message.raw.decode()


def test_it_refuses_an_unknown_event_or_fact(root):
    with pytest.raises(notifications.UnknownEvent):
        notifications.notify(root.operator_id, "somethingElse")
    with pytest.raises(notifications.UnknownEvent):
        notifications.notify(root.operator_id, "rootPasswordChanged", password="x")


# --- the MFA events from the flows that cause them -----------------------------------------------


def _enrol(root, root_api):
    import pyotp

    from security import mfa

    uri = Client().post(OP.format(root.operator_id) + "/mfa", **root_api).json()["totpUri"]
    code = pyotp.TOTP(mfa.secret_from_uri(uri)).now()
    return Client().post(
        OP.format(root.operator_id) + "/mfa/verify",
        {"mfaOTPCode": code},
        "application/json",
        **root_api,
    )


def test_it_mails_root_when_root_mfa_is_verified(root, root_api, smtp_server, committed):
    with committed():
        response = _enrol(root, root_api)
    assert response.status_code == 200
    (message,) = smtp_server.wait_for(1)
    assert message.subject == "Latchkey: Multi-factor authentication was enabled"
    assert all(code not in message.raw.decode() for code in response.json()["backupCodes"])


def test_it_mails_root_when_root_mfa_is_revoked(root, root_api, smtp_server, committed):
    _enrol(root, root_api)
    with committed():
        response = Client().delete(
            OP.format(root.operator_id) + "/mfa",
            {"password": ROOT_PASSWORD},
            "application/json",
            **root_api,
        )
    assert response.status_code == 204
    assert "Latchkey: Multi-factor authentication was removed" in subjects(smtp_server)
