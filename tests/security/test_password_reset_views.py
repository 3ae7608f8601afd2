"""The console's "Forgot your password?" pages: the same service as the API, through real SMTP."""

from datetime import timedelta

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.models import Principal
from security import password_reset
from security.models import AuditEntry, PasswordResetToken
from tests.api.test_password_reset_api import VERIFY, code_of, mailed_code, post
from tests.conftest import ROOT_PASSWORD

FORGOT = "/login/forgot/"
RESET = "/login/reset/"
NEW_PASSWORD = "console-Reset-Password-42"


def reset_form(code: str, password: str = NEW_PASSWORD, confirm: str | None = None) -> dict:
    return {"token": code, "new_password": password, "confirm_password": confirm or password}


def password_is(root: Principal, password: str) -> bool:
    return Principal.objects.get(pk=root.pk).check_password(password)


def test_it_links_the_forgot_page_from_the_root_sign_in(db):
    assert FORGOT.encode() in Client().get("/login/").content


def test_it_shows_the_forgot_page(db):
    response = Client().get(FORGOT)
    assert response.status_code == 200
    assert b'name="email"' in response.content


def test_it_mails_a_code_from_the_forgot_page(root, smtp_server):
    response = Client().post(FORGOT, {"email": root.email})
    assert (response.status_code, response["Location"]) == (302, RESET)
    (message,) = smtp_server.wait_for(1)
    assert message.to == [root.email]
    assert PasswordResetToken.objects.filter(principal=root).count() == 1


def test_it_answers_an_unknown_address_on_the_forgot_page_as_a_known_one(root, smtp_server):
    answers = []
    for email in (root.email, "nobody@example.com"):
        client = Client()
        response = client.post(FORGOT, {"email": email}, follow=True)
        answers.append((response.status_code, [str(m) for m in response.context["messages"]]))
    assert answers[0] == answers[1]
    assert len(smtp_server.wait_for(1)) == 1
    assert smtp_server.to("nobody@example.com") == []


def test_it_refuses_a_malformed_address_on_the_forgot_page(root, smtp_server):
    response = Client().post(FORGOT, {"email": "not an address"})
    assert response.status_code == 400
    assert b"field-error" in response.content
    assert smtp_server.messages == []


def test_it_throttles_the_forgot_page_with_retry_after(root, smtp_server):
    for _ in range(5):
        Client().post(FORGOT, {"email": root.email}, REMOTE_ADDR="198.51.100.7")
    response = Client().post(FORGOT, {"email": root.email}, REMOTE_ADDR="198.51.100.8")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_it_resets_the_password_from_the_reset_page(root, smtp_server):
    code = mailed_code(root, smtp_server)
    response = Client().post(RESET, reset_form(code))
    assert (response.status_code, response["Location"]) == (302, "/login/")
    assert password_is(root, NEW_PASSWORD)
    assert PasswordResetToken.objects.get(principal=root).used_at is not None


def test_it_refuses_a_used_code_on_the_reset_page_without_echoing_it(root, smtp_server):
    code = mailed_code(root, smtp_server)
    Client().post(RESET, reset_form(code))
    response = Client().post(RESET, reset_form(code, "another-Password-77"))
    assert response.status_code == 400
    assert b"not valid" in response.content
    assert code.encode() not in response.content
    assert password_is(root, NEW_PASSWORD)


def test_it_answers_404_for_an_expired_code_on_the_reset_page(root, smtp_server, monkeypatch):
    code = mailed_code(root, smtp_server)
    later = timezone.now() + timedelta(hours=1)
    monkeypatch.setattr(password_reset, "_now", lambda: later)
    response = Client().post(RESET, reset_form(code))
    assert response.status_code == 404
    assert b"expired" in response.content
    assert password_is(root, ROOT_PASSWORD)


def test_it_refuses_two_different_passwords_and_keeps_the_code(root, smtp_server):
    code = mailed_code(root, smtp_server)
    response = Client().post(RESET, reset_form(code, NEW_PASSWORD, "something-Else-123"))
    assert response.status_code == 400
    assert password_is(root, ROOT_PASSWORD)
    assert PasswordResetToken.objects.get(principal=root).used_at is None


def test_it_refuses_a_weak_password_on_the_reset_page(root, smtp_server):
    code = mailed_code(root, smtp_server)
    response = Client().post(RESET, reset_form(code, "1234567890"))
    assert response.status_code == 400
    assert b"field-error" in response.content
    assert password_is(root, ROOT_PASSWORD)


# --- parity: the console page does what the API does ---------------------------------------


def _console_verify(code: str) -> int:
    """Return the console's answer as the API's status (its success is a redirect to sign-in)."""
    response = Client().post(RESET, reset_form(code))
    if response.status_code == 302 and response["Location"] == "/login/":
        return 200
    return response.status_code


def _api_verify(code: str) -> int:
    return post(VERIFY, {"token": code, "password": NEW_PASSWORD}).status_code


@pytest.mark.parametrize("case", ["valid", "used", "expired", "unknown"])
def test_it_does_in_the_console_what_the_api_does(root, smtp_server, monkeypatch, case):
    outcomes = []
    for verify in (_console_verify, _api_verify):
        monkeypatch.undo()
        root.set_password(ROOT_PASSWORD)
        root.save()
        PasswordResetToken.objects.all().delete()
        before = AuditEntry.objects.count()
        code = mailed_code(root, smtp_server, count=len(smtp_server.messages) + 1)
        if case == "used":
            password_reset.verify(RequestFactory().post(VERIFY), code, "first-Use-Password-1")
        elif case == "expired":
            later = timezone.now() + timedelta(hours=1)
            monkeypatch.setattr(password_reset, "_now", lambda: later)
        elif case == "unknown":
            code = "u" * 43
        status = verify(code)
        new = AuditEntry.objects.order_by("pk")[before:]
        changed = password_is(root, NEW_PASSWORD)
        outcomes.append((status, changed, [(e.action, e.outcome, e.details) for e in new]))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == {"valid": 200, "used": 400, "expired": 404, "unknown": 400}[case]


# --- secrets ---------------------------------------------------------------------------------


def test_it_keeps_the_code_out_of_everything_but_its_mail_in_the_console(canary, root, smtp_server):
    password = canary.plant("pw")
    browser = Client()
    assert browser.post(FORGOT, {"email": root.email}).status_code == 302
    (message,) = smtp_server.wait_for(1)
    code = canary.add(code_of(message), label="reset code", shown_in=message)
    assert browser.post(RESET, reset_form(code, password, "mismatch-Password-9")).status_code == 400
    assert browser.post(RESET, reset_form(code, password)).status_code == 302
    assert browser.post(RESET, reset_form(code, password)).status_code == 400
    assert browser.get("/login/", follow=True).status_code == 200
    canary.assert_nowhere(revisit=Principal.objects.get(pk=root.pk))
