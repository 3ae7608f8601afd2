"""The Audit log tab's free-text search, quick filters and the one CSV time format."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest

from security import audit, auditlog, authkeys
from security.models import AuditEntry
from tests.statements import count_statements

pytestmark = pytest.mark.django_db

KEY_A = "keyId-" + "a" * 32
KEY_B = "keyId-" + "b" * 32
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def trail(operator, root, alice):
    audit.record(None, "User:createUser", operator=operator, principal=root, target="bob")
    audit.record(None, "Auth:auth", operator=operator, principal=alice, auth_key_id=KEY_A)
    audit.record(
        None,
        "User:deleteUserAuthKey",
        operator=operator,
        principal=root,
        target="alice",
        details={"authKeyId": KEY_B, "reason": "leaked"},
    )
    audit.record(
        None,
        "Support:revokeAuthKey",
        operator=operator,
        principal=None,
        target="carol",
        details={"authKeyId": KEY_A, "reason": "reported"},
    )
    audit.record(None, "Console:signIn", operator=operator, principal=root, target="root")
    audit.record(
        None, "Operator:revokeOperatorAuthTokens", operator=operator, principal=root, target="x"
    )


def _actions(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [r.entry.action for r in response.context["rows"]]


def test_search_finds_a_target_by_part_of_it(root_client, trail):
    assert _actions(root_client.get("/security/audit/", {"q": "ob"})) == ["User:createUser"]


def test_search_finds_an_action_by_part_of_it_whatever_the_case(root_client, trail):
    assert _actions(root_client.get("/security/audit/", {"q": "createuser"})) == ["User:createUser"]


def test_search_finds_the_actor(root_client, trail):
    found = _actions(root_client.get("/security/audit/", {"q": "example.com"}))
    assert set(found) == {
        "User:createUser",
        "User:deleteUserAuthKey",
        "Console:signIn",
        "Operator:revokeOperatorAuthTokens",
    }


def test_search_finds_a_key_id_used_and_a_key_id_revoked(root_client, trail):
    # KEY_A authenticated the exchange and was revoked by support staff later.
    found = _actions(root_client.get("/security/audit/", {"q": KEY_A}))
    assert found == ["Support:revokeAuthKey", "Auth:auth"]


def test_search_takes_like_wildcards_literally(root_client, trail):
    assert _actions(root_client.get("/security/audit/", {"q": "%"})) == []
    assert _actions(root_client.get("/security/audit/", {"q": "_"})) == []


def test_search_is_scoped_to_the_operator(outsider_client, trail):
    assert _actions(outsider_client.get("/security/audit/", {"q": "bob"})) == []


def test_search_refuses_a_query_longer_than_its_cap(root_client, trail):
    response = root_client.get("/security/audit/", {"q": "b" * (auditlog.MAX_SEARCH_LENGTH + 1)})
    assert response.status_code == 400
    assert len(response.context["rows"]) == 6  # an invalid field filters nothing


def test_search_refuses_a_pasted_secret_without_echoing_it(root_client, root, trail):
    _, secret = authkeys.generate(None, root, root)
    response = root_client.get("/security/audit/", {"q": secret})
    assert response.status_code == 400
    assert secret not in response.content.decode()


def test_quick_filter_revocations_lists_console_api_and_staff_revocations(root_client, trail):
    found = _actions(root_client.get("/security/audit/", {"kind": "revocations"}))
    assert found == [
        "Operator:revokeOperatorAuthTokens",
        "Support:revokeAuthKey",
        "User:deleteUserAuthKey",
    ]


def test_quick_filter_sign_ins_lists_console_and_api_sign_ins(root_client, trail):
    found = _actions(root_client.get("/security/audit/", {"kind": "sign-ins"}))
    assert found == ["Console:signIn", "Auth:auth"]


def test_quick_filter_combines_with_the_search(root_client, trail):
    found = _actions(root_client.get("/security/audit/", {"kind": "revocations", "q": KEY_B}))
    assert found == ["User:deleteUserAuthKey"]


def test_an_unknown_quick_filter_is_refused(root_client, trail):
    response = root_client.get("/security/audit/", {"kind": "everything"})
    assert response.status_code == 400


def test_the_quick_filter_is_marked_current(root_client, trail):
    body = root_client.get("/security/audit/", {"kind": "sign-ins"}).content.decode()
    assert re.search(r'id="quick-sign-ins" aria-current="true"', body)


def test_the_search_costs_the_same_statements_for_few_and_many_entries(root_client, operator, root):
    def statements() -> int:
        with count_statements() as counted:
            response = root_client.get("/security/audit/", {"q": "target", "kind": ""})
        assert response.status_code == 200
        return counted.total

    for n in range(3):
        audit.record(None, "User:updateUser", operator=operator, principal=root, target=f"t{n}")
    statements()  # the first request's one-off work (session, settings) is not per row
    few = statements()
    for n in range(60):
        audit.record(None, "User:updateUser", operator=operator, principal=root, target=f"t{n}")
    assert statements() == few


def test_the_user_agent_is_folded_into_a_detail(root_client, operator, root, rf):
    request = rf.get("/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chromium/131")
    audit.record(request, "User:createUser", operator=operator, principal=root, target="bob")
    body = root_client.get("/security/audit/").content.decode()
    assert re.search(
        r'<details class="user-agent"><summary>User agent</summary>'
        r"<small>Mozilla/5.0 \(X11; Linux x86_64\) Chromium/131</small></details>",
        body,
    )


def test_an_email_may_break_only_before_its_at_sign(root_client, trail):
    body = root_client.get("/security/audit/").content.decode()
    assert '<span class="mono actor">root<wbr>@example.com</span>' in body


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_audit_export_writes_iso_utc_times_with_z(root_client, trail):
    response = root_client.get("/security/audit/export.csv")
    rows = _csv(b"".join(response.streaming_content).decode())
    assert rows and all(ISO_Z.match(r["time_utc"]) for r in rows)
    entry = AuditEntry.objects.filter(action="User:createUser").get()
    (row,) = [r for r in rows if r["action"] == "User:createUser"]
    assert row["time_utc"] == entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_the_credential_report_writes_times_in_the_same_format(root_client, root):
    authkeys.generate(None, root, root)
    response = root_client.get("/security/reports/credentials.csv")
    (row,) = _csv(response.content.decode())
    assert ISO_Z.match(row["created"]), row["created"]
    assert ISO_Z.match(row["key_1_created"]), row["key_1_created"]


def test_iso_utc_converts_to_utc_and_keeps_milliseconds():
    from zoneinfo import ZoneInfo

    at = datetime(2026, 3, 1, 9, 30, 5, 123_987, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert auditlog.iso_utc(at) == "2026-03-01T00:30:05.123Z"
