"""POST /v1/auth/password_reset_token/issue and /verify, end to end through a real SMTP server."""

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail as outbox
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import ApiSession, Principal
from console import mail
from security import authkeys, password_reset
from security.models import AuditEntry, PasswordResetToken
from tests.conftest import ROOT_PASSWORD, api_login
from tests.operations_table import UNAUTHENTICATED_CONSOLE_TWINS, UNAUTHENTICATED_OPERATIONS
from tests.routes import all_routes, contract_path, is_exempt
from tests.statements import count_statements

ISSUE = "/v1/auth/password_reset_token/issue"
VERIFY = "/v1/auth/password_reset_token/verify"
NEW_PASSWORD = "reset-Password-4711"
CODE = re.compile(r"^  (\S{43})\r?$", re.MULTILINE)


def post(path: str, body: dict, ip: str = "192.0.2.10", client: Client | None = None):
    return (client or Client()).post(path, body, content_type="application/json", REMOTE_ADDR=ip)


def code_of(message) -> str:
    """Return the reset code a received mail holds."""
    return CODE.search(message.body).group(1)


def mailed_code(root, smtp_server, count: int = 1) -> str:
    assert post(ISSUE, {"email": root.email}).status_code == 200
    return code_of(smtp_server.wait_for(count)[-1])


def can_sign_in(root, password: str) -> bool:
    return post("/v1/auth", {"email": root.email, "password": password}).status_code == 200


# --- issue -------------------------------------------------------------------------------


def test_it_mails_a_reset_code_to_the_root_address(root, smtp_server):
    assert post(ISSUE, {"email": "Root@Example.com"}).status_code == 200
    (message,) = smtp_server.wait_for(1)
    assert message.to == [root.email]
    assert message.subject == "Latchkey: reset your root password"
    assert "http://testserver/login/reset/" in message.body
    assert len(code_of(message)) == 43


def test_it_stores_the_code_only_as_its_keyed_hash(root, smtp_server):
    code = mailed_code(root, smtp_server)
    stored = PasswordResetToken.objects.get(principal=root)
    assert stored.token_hash == password_reset.hash_token(code)
    assert code not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(minutes=30)


def test_it_answers_200_for_an_unknown_address_and_mails_nothing(root, smtp_server):
    response = post(ISSUE, {"email": "nobody@example.com"})
    assert (response.status_code, response.content) == (200, b"")
    assert smtp_server.messages == []
    assert not PasswordResetToken.objects.exists()


def test_it_answers_an_unknown_address_exactly_like_a_root_address(root, smtp_server):
    known = post(ISSUE, {"email": root.email}, ip="192.0.2.1")
    unknown = post(ISSUE, {"email": "nobody@example.com"}, ip="192.0.2.2")
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert dict(known.headers).keys() == dict(unknown.headers).keys()


def test_it_does_the_same_work_before_answering_for_an_unknown_address(root, monkeypatch):
    # The response is complete before the address is looked up: the statements run while
    # answering are the same for a root's address and an unknown one, and the work that
    # differs is one job queued to run after the response.
    queued = []
    monkeypatch.setattr(mail, "after_response", lambda name, job: queued.append(job))
    runs = []
    for email, ip in ((root.email, "192.0.2.1"), ("nobody@example.com", "192.0.2.2")):
        with count_statements() as counted:
            assert post(ISSUE, {"email": email}, ip=ip).status_code == 200
        runs.append([re.sub(r"'[^']*'|\"s\d+_x\d+\"|\b\d+\b", "?", s) for s in counted.statements])
    assert runs[0] == runs[1]
    assert not any("principal" in s for s in runs[0])
    assert len(queued) == 2
    queued[0]()
    queued[1]()
    assert PasswordResetToken.objects.filter(principal=root).count() == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"email": None}, {"email": "not an address"}, {"email": "a@b.c", "x": 1}, {"email": 1}],
    ids=["missing", "null", "malformed", "unknown field", "wrong type"],
)
def test_it_refuses_a_bad_issue_body_with_400_and_mails_nothing(root, smtp_server, body):
    response = post(ISSUE, body)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"}
    assert smtp_server.messages == []


def test_it_throttles_issue_per_address_with_retry_after(root, smtp_server):
    for n in range(5):
        assert post(ISSUE, {"email": root.email}, ip=f"198.51.100.{n}").status_code == 200
    response = post(ISSUE, {"email": root.email}, ip="198.51.100.99")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert len(smtp_server.wait_for(5)) == 5
    assert len(smtp_server.messages) == 5


def test_it_throttles_issue_per_source_address(root, smtp_server):
    for n in range(20):
        assert post(ISSUE, {"email": f"user{n}@example.com"}).status_code == 200
    assert post(ISSUE, {"email": root.email}).status_code == 429
    assert smtp_server.messages == []


def test_it_retires_the_older_code_when_a_new_one_is_mailed(root, smtp_server):
    first = mailed_code(root, smtp_server)
    second = mailed_code(root, smtp_server, count=2)
    assert post(VERIFY, {"token": first, "password": NEW_PASSWORD}).status_code == 400
    assert post(VERIFY, {"token": second, "password": NEW_PASSWORD}).status_code == 200


# --- verify ------------------------------------------------------------------------------


def test_it_resets_the_root_password_with_the_mailed_code(root, smtp_server):
    code = mailed_code(root, smtp_server)
    response = post(VERIFY, {"token": code, "password": NEW_PASSWORD})
    assert (response.status_code, response.content) == (200, b"")
    assert can_sign_in(root, NEW_PASSWORD)
    assert not can_sign_in(root, ROOT_PASSWORD)


def test_it_refuses_a_code_used_once_already(root, smtp_server):
    code = mailed_code(root, smtp_server)
    assert post(VERIFY, {"token": code, "password": NEW_PASSWORD}).status_code == 200
    response = post(VERIFY, {"token": code, "password": "another-Password-1"})
    assert response.status_code == 400
    assert response.json()["message"] == "The reset token is not valid."
    assert can_sign_in(root, NEW_PASSWORD)


def test_it_answers_404_for_an_expired_code_and_changes_nothing(root, smtp_server, monkeypatch):
    code = mailed_code(root, smtp_server)
    later = timezone.now() + timedelta(minutes=30, seconds=1)
    monkeypatch.setattr(password_reset, "_now", lambda: later)
    response = post(VERIFY, {"token": code, "password": NEW_PASSWORD})
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message"}
    assert can_sign_in(root, ROOT_PASSWORD)


def test_it_accepts_a_code_just_before_it_expires(root, smtp_server, monkeypatch):
    code = mailed_code(root, smtp_server)
    later = timezone.now() + timedelta(minutes=29, seconds=50)
    monkeypatch.setattr(password_reset, "_now", lambda: later)
    assert post(VERIFY, {"token": code, "password": NEW_PASSWORD}).status_code == 200


@pytest.mark.parametrize(
    "token", ["x" * 43, "", "y" * 101, "../../etc"], ids=["unknown", "empty", "long", "junk"]
)
def test_it_refuses_a_bad_code_with_400_and_changes_nothing(root, token):
    response = post(VERIFY, {"token": token, "password": NEW_PASSWORD})
    assert response.status_code == 400
    assert token not in response.content.decode() or not token
    root.refresh_from_db()
    assert root.check_password(ROOT_PASSWORD)


def test_it_refuses_a_weak_password_and_keeps_the_code_usable(root, smtp_server):
    code = mailed_code(root, smtp_server)
    response = post(VERIFY, {"token": code, "password": "1234567890"})
    assert response.status_code == 400
    assert "1234567890" not in response.content.decode()
    assert can_sign_in(root, ROOT_PASSWORD)
    assert post(VERIFY, {"token": code, "password": NEW_PASSWORD}).status_code == 200


def test_it_throttles_bad_codes_per_source_address(root, smtp_server):
    for _ in range(20):
        assert post(VERIFY, {"token": "z" * 43, "password": NEW_PASSWORD}).status_code == 400
    code = mailed_code(root, smtp_server)
    response = post(VERIFY, {"token": code, "password": NEW_PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert can_sign_in(root, ROOT_PASSWORD)


# --- what a reset ends (docs/sessions.md) -------------------------------------------------


def _live(api_key: str) -> bool:
    return (
        Client()
        .get(
            f"/v1/operators/{ApiSession.objects.get(api_key=api_key).principal.operator_id}",
            HTTP_X_SORACOM_API_KEY=api_key,
            HTTP_X_SORACOM_TOKEN=_tokens[api_key],
        )
        .status_code
        == 200
    )


_tokens: dict[str, str] = {}


def _session(**body) -> str:
    data = api_login(Client(), **body)
    _tokens[data["apiKey"]] = data["token"]
    return data["apiKey"]


def test_it_ends_password_sessions_and_keeps_authkey_sessions(root, smtp_server):
    key, secret = authkeys.generate(None, root, root)
    by_password = _session(email=root.email, password=ROOT_PASSWORD)
    by_key = _session(authKeyId=key.key_id, authKey=secret)
    console = Client()
    console.force_login(root, backend="accounts.backends.RootBackend")
    code = mailed_code(root, smtp_server)
    assert post(VERIFY, {"token": code, "password": NEW_PASSWORD}).status_code == 200
    assert not _live(by_password)
    assert _live(by_key)
    assert console.get("/security/users/").status_code == 302  # back to sign-in


# --- audit (never the code) ---------------------------------------------------------------


def test_it_audits_issue_mail_and_verify_without_the_code(root, smtp_server):
    code = mailed_code(root, smtp_server)
    post(VERIFY, {"token": "q" * 43, "password": NEW_PASSWORD})
    post(VERIFY, {"token": code, "password": NEW_PASSWORD})
    entries = list(
        AuditEntry.objects.filter(operator=root.operator)
        .order_by("seq")
        .values_list("action", "outcome", "details")
    )
    assert entries[:3] == [
        ("Auth:issuePasswordResetToken", "allowed", {"expiresInSeconds": 1800}),
        ("Mail:send", "allowed", {"mail": "passwordResetToken", "sent": True}),
        ("Auth:verifyPasswordResetToken", "allowed", {"sessionsEnded": 0}),
    ]
    stored = repr(list(AuditEntry.objects.values()))
    assert code not in stored


def test_it_audits_a_used_code_as_a_failed_verify(root, smtp_server):
    code = mailed_code(root, smtp_server)
    post(VERIFY, {"token": code, "password": NEW_PASSWORD})
    post(VERIFY, {"token": code, "password": NEW_PASSWORD})
    last = AuditEntry.objects.filter(action="Auth:verifyPasswordResetToken").order_by("-seq")[0]
    assert (last.outcome, last.details) == ("failed", {"reason": "used"})


# --- secrets: the code only in its mail ---------------------------------------------------


def test_it_keeps_the_reset_code_out_of_everything_but_its_mail(canary, root, smtp_server):
    password = canary.plant("pw")
    weak_first = post(ISSUE, {"email": root.email})
    assert weak_first.status_code == 200
    (message,) = smtp_server.wait_for(1)
    code = canary.add(code_of(message), label="reset code", shown_in=message)
    assert post(VERIFY, {"token": code, "password": "1234567890"}).status_code == 400
    assert post(VERIFY, {"token": code, "password": password}).status_code == 200
    assert post(VERIFY, {"token": code, "password": password}).status_code == 400
    canary.assert_nowhere(revisit=Principal.objects.get(pk=root.pk))


# --- a code used twice at once (PostgreSQL, real threads) ---------------------------------

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite's in-memory test database shares one "
    "connection between threads",
)


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_it_accepts_a_code_once_when_eight_requests_use_it_at_once(root):
    assert post(ISSUE, {"email": root.email}).status_code == 200
    code = code_of(outbox.outbox[-1])
    start = threading.Barrier(8)
    statuses, errors = [], []

    def use(n: int) -> None:
        try:
            start.wait(30)
            body = {"token": code, "password": f"{NEW_PASSWORD}-{n}"}
            statuses.append(post(VERIFY, body, ip=f"203.0.113.{n}").status_code)
        except Exception as exc:  # asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=use, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(statuses) == [200] + [400] * 7
    winners = [n for n in range(8) if can_sign_in(root, f"{NEW_PASSWORD}-{n}")]
    assert len(winners) == 1


# --- the operations table (tests/operations_table.py) ---------------------------------------


def test_it_serves_every_unauthenticated_operation_of_the_table_without_a_credential():
    exempt = {
        (r.method, contract_path(r)) for r in all_routes() if r.kind == "api" and is_exempt(r)
    }
    assert set(UNAUTHENTICATED_OPERATIONS) <= exempt
    consoles = {r.route for r in all_routes() if r.kind == "console" and is_exempt(r)}
    assert set(UNAUTHENTICATED_CONSOLE_TWINS) <= consoles
    assert set(UNAUTHENTICATED_CONSOLE_TWINS.values()) <= set(UNAUTHENTICATED_OPERATIONS)


def test_it_lists_every_exempt_route_under_auth_but_the_exchange_in_the_table():
    under_auth = {
        (r.method, contract_path(r))
        for r in all_routes()
        if r.kind == "api" and is_exempt(r) and r.route.startswith("v1/auth/")
    }
    assert under_auth == set(UNAUTHENTICATED_OPERATIONS)


def test_it_audits_under_the_api_names_of_the_table(root, smtp_server):
    code = mailed_code(root, smtp_server)
    post(VERIFY, {"token": code, "password": NEW_PASSWORD})
    audited = set(AuditEntry.objects.values_list("action", flat=True))
    assert set(UNAUTHENTICATED_OPERATIONS.values()) <= audited


def test_it_refuses_the_code_of_a_deactivated_root(root, smtp_server):
    code = mailed_code(root, smtp_server)
    Principal.objects.filter(pk=root.pk).update(is_active=False)
    assert post(VERIFY, {"token": code, "password": NEW_PASSWORD}).status_code == 400
    assert Principal.objects.get(pk=root.pk).check_password(ROOT_PASSWORD)
    last = AuditEntry.objects.filter(action="Auth:verifyPasswordResetToken").get()
    assert (last.outcome, last.details) == ("failed", {"reason": "inactive"})


def test_it_mails_no_code_to_a_deactivated_root(root, smtp_server):
    Principal.objects.filter(pk=root.pk).update(is_active=False)
    assert post(ISSUE, {"email": root.email}).status_code == 200
    assert smtp_server.messages == []
