"""The credential report (page and CSV) and the built-in auditor permission."""

import csv
import io
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Operator, Principal, Role
from security import authkeys, reports
from security.models import AuditEntry, AuthKey, CredentialSet

pytestmark = pytest.mark.django_db


class _Cells(HTMLParser):
    """Collect {principal: {column: value}} from the report table's data-col cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.current: dict[str, str] | None = None
        self.stack: list[tuple[str, str | None, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-principal" in a:
            self.current = self.rows.setdefault(a["data-principal"], {})
        col = a.get("data-col")
        if col and "data-value" in a and self.current is not None:
            self.current[col] = a["data-value"]
            col = None
        self.stack.append((tag, col, []))

    def handle_endtag(self, tag):
        while self.stack:
            name, col, text = self.stack.pop()
            if col and self.current is not None:
                self.current[col] = "".join(text).strip()
            if name == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2].append(data)


def _page(client) -> dict[str, dict[str, str]]:
    parser = _Cells()
    parser.feed(client.get("/security/reports/credentials/").content.decode())
    return parser.rows


def _csv(client, url="/security/reports/credentials.csv") -> dict[str, dict[str, str]]:
    text = client.get(url).content.decode()
    return {row["principal"]: row for row in csv.DictReader(io.StringIO(text))}


@pytest.fixture
def keys(root, alice, robot):
    alice_key, _ = authkeys.generate(None, root, alice)
    robot_key, _ = authkeys.generate(None, root, robot)
    second, _ = authkeys.generate(None, root, robot)
    old = timezone.now() - timedelta(days=120)
    AuthKey.objects.filter(pk=robot_key.pk).update(
        created_at=old, last_used_at=old + timedelta(days=1), last_used_ip="198.51.100.7"
    )
    AuthKey.objects.filter(pk=second.pk).update(
        last_used_at=timezone.now(), last_used_ip="203.0.113.9"
    )
    return {"alice": alice_key, "robot": robot_key, "robot2": second}


def test_it_refuses_a_sam_user_without_permission(alice_client):
    assert alice_client.get("/security/reports/credentials/").status_code == 403
    assert alice_client.get("/security/reports/credentials.csv").status_code == 403


def test_it_shows_only_the_operators_principals(outsider_client, keys):
    rows = _csv(outsider_client)
    assert list(rows) == ["<root>"]


def test_it_has_one_row_per_principal(root_client, keys):
    assert list(_csv(root_client)) == ["<root>", "alice", "robot"]


def test_it_reports_password_state(root_client, keys, alice):
    rows = _csv(root_client)
    assert rows["alice"]["password_set"] == "true"
    assert rows["alice"]["password_last_changed"].startswith(str(alice.password_changed_at.year))
    assert rows["robot"]["password_set"] == "false"
    assert rows["robot"]["password_last_changed"] == ""


def test_it_reports_each_key_with_its_use(root_client, keys):
    robot = _csv(root_client)["robot"]
    assert robot["key_1_id"] == keys["robot"].key_id
    assert robot["key_1_last_used_from"] == "198.51.100.7"
    assert robot["key_1_age_days"] == "120"
    assert robot["key_2_id"] == keys["robot2"].key_id
    assert robot["key_2_last_used_from"] == "203.0.113.9"


def test_it_flags_keys_unused_for_the_stale_period(root_client, keys):
    robot = _csv(root_client)["robot"]
    assert robot["key_1_stale"] == "true"
    assert robot["key_2_stale"] == "false"


def test_it_honours_the_configured_stale_period(root_client, keys, settings):
    settings.LATCHKEY_STALE_KEY_DAYS = 200
    assert _csv(root_client)["robot"]["key_1_stale"] == "false"


def test_it_flags_stale_keys_on_the_page(root_client, keys):
    response = root_client.get("/security/reports/credentials/")
    assert response.context["stale_count"] == 1
    assert b'class="stale"' in response.content


def test_it_leaves_out_revoked_keys(root_client, keys, root):
    authkeys.revoke(None, root, keys["alice"], reason="rotation")
    assert _csv(root_client)["alice"]["key_1_id"] == ""


def test_it_agrees_between_page_and_csv(root_client, keys):
    page, sheet = _page(root_client), _csv(root_client)
    assert set(page) == set(sheet)
    for principal, row in sheet.items():
        for column, value in row.items():
            shown = page[principal].get(column, "")
            if column.endswith("_stale"):
                shown = shown or ("false" if row[column.replace("_stale", "_id")] else "")
            assert shown == value, (principal, column)


def test_it_serves_the_csv_from_the_format_parameter(root_client, keys):
    assert _csv(root_client, "/security/reports/credentials/?format=csv") == _csv(root_client)


def test_it_never_puts_a_secret_or_hash_in_the_report(root, alice, root_client):
    key, secret = authkeys.generate(None, root, alice)
    page = root_client.get("/security/reports/credentials/").content.decode()
    sheet = root_client.get("/security/reports/credentials.csv").content.decode()
    for text in (page, sheet):
        assert secret not in text
        assert key.secret_hash not in text


# --- the auditor permission ----------------------------------------------------------------


def test_it_offers_an_auditor_document_that_only_reads():
    apis = reports.AUDITOR_PERMISSION["statements"][0]["api"]
    assert all(":" in a and "*" not in a for a in apis)
    verbs = ("get", "list", "has")
    assert all(a.split(":")[1].startswith(verbs) for a in apis)


def test_it_parses_as_a_valid_permission_document():
    from accounts.permissions import parse_document

    parse_document(reports.auditor_permission_json())


@pytest.fixture
def auditor(operator, alice, root):
    """Alice holding the auditor document as an attached role."""
    from security import roles

    role = roles.create_role(
        None,
        root,
        reports.AUDITOR_ROLE_ID,
        reports.auditor_permission_json(),
        reports.AUDITOR_ROLE_DESCRIPTION,
    )
    roles.attach_role(None, root, alice, role)
    return alice


@pytest.mark.parametrize(
    "url",
    [
        "/security/audit/",
        "/security/audit/export.csv",
        "/security/reports/credentials/",
        "/security/reports/credentials.csv",
        "/security/users/",
        "/security/users/robot/",
        "/security/users/robot/authentication",
    ],
)
def test_it_lets_an_auditor_read(auditor, alice_client, robot, url):
    assert alice_client.get(url).status_code == 200


def _tenant_state(operator) -> tuple:
    """Return everything an auditor's POST could change, and the allowed audit entries."""
    operator = Operator.objects.get(pk=operator.pk)
    return (
        sorted(
            Principal.objects.filter(operator=operator).values_list(
                "user_name", "description", "password", "is_active", "inline_permission"
            )
        ),
        sorted(AuthKey.objects.filter(operator_id=operator.pk).values_list("key_id", "slot")),
        sorted(Role.objects.filter(operator=operator).values_list("role_id", "permission")),
        CredentialSet.objects.filter(operator=operator).count(),
        (operator.support_access_until, operator.default_permissions),
        AuditEntry.objects.filter(operator=operator, outcome="allowed").count(),
    )


NEW_PASSWORD = "Auditor-Would-Set-This-1"


@pytest.mark.parametrize(
    ("url", "data"),
    [
        # Each body is valid: were the auditor allowed, the change would happen.
        ("/security/users/new", {"user_name": "x", "description": "x"}),
        ("/security/users/robot/update", {"description": "x"}),
        ("/security/users/robot/delete", {}),
        (
            "/security/users/robot/password",
            {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        ),
        ("/security/users/robot/authkeys/generate", {}),
        ("/security/users/robot/permissions/update", {"permission": '{"statements":[]}'}),
        (
            "/security/roles/new",
            {"role_id": "x", "description": "", "permission": '{"statements":[]}'},
        ),
        ("/security/default-permissions/update", {"permission": '{"statements":[]}'}),
        ("/security/support/grant", {"hours": "1"}),
    ],
)
def test_it_lets_an_auditor_change_nothing(auditor, alice_client, robot, operator, url, data):
    before = _tenant_state(operator)
    response = alice_client.post(url, data)
    assert response.status_code == 403
    assert _tenant_state(operator) == before
    denied = AuditEntry.objects.filter(operator=operator, outcome="denied").latest("id")
    assert denied.actor == "alice"


def test_it_lets_an_auditor_read_the_audit_api(auditor, alice_api):
    response = Client().get("/v1/audit_logs/api", **alice_api)
    assert response.status_code == 200


def test_it_refuses_the_auditor_role_to_a_sam_user_without_permission(alice_client, operator):
    from security import roles

    assert alice_client.post("/security/reports/auditor-role").status_code == 403
    assert roles.get_role(operator.pk, reports.AUDITOR_ROLE_ID) is None


def test_it_creates_the_auditor_role_from_the_template(root_client, operator):
    from security import roles

    response = root_client.post("/security/reports/auditor-role")
    assert response.status_code == 302
    assert response["Location"] == f"/security/roles/{reports.AUDITOR_ROLE_ID}/"
    role = roles.get_role(operator.pk, reports.AUDITOR_ROLE_ID)
    assert role.permission == reports.auditor_permission_json()


def test_it_leaves_an_existing_auditor_role_alone(root_client, root, operator):
    from security import roles

    mine = '{"statements":[{"effect":"allow","api":"User:listUsers"}]}'
    roles.create_role(None, root, reports.AUDITOR_ROLE_ID, mine)
    response = root_client.post("/security/reports/auditor-role", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == f"/security/roles/{reports.AUDITOR_ROLE_ID}/"
    assert roles.get_role(operator.pk, reports.AUDITOR_ROLE_ID).permission == mine


def test_it_lets_an_auditor_revoke_nothing(auditor, alice_client, root, robot):
    key, _ = authkeys.generate(None, root, robot)
    url = f"/security/users/robot/authkeys/{key.key_id}/revoke"
    assert alice_client.post(url).status_code == 403
    key.refresh_from_db()
    assert key.is_live


# Root's AuthKeys: one rule for the report and the API (issue 9.12, docs/audit.md) ----------


@pytest.fixture
def root_key(root):
    key, _ = authkeys.generate(None, root, root)
    AuthKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now(), last_used_ip="192.0.2.77")
    return key


def _everything(alice):
    import json

    from accounts import policy

    policy.clear_cache()
    alice.inline_permission = json.dumps({"statements": [{"effect": "allow", "api": "*"}]})
    alice.save()
    alice.operator.bump_policy_version()


def _leaks(body: bytes, key) -> list[str]:
    return [v for v in (key.key_id, "192.0.2.77") if v.encode() in body]


@pytest.mark.parametrize(
    "url", ["/security/reports/credentials/", "/security/reports/credentials.csv"]
)
def test_it_withholds_roots_keys_from_an_auditor(auditor, alice_client, root_key, url):
    assert _leaks(alice_client.get(url).content, root_key) == []


@pytest.mark.parametrize(
    "url", ["/security/reports/credentials/", "/security/reports/credentials.csv"]
)
def test_it_withholds_roots_keys_from_a_sam_user_allowed_everything(
    alice, alice_client, root_key, url
):
    _everything(alice)
    response = alice_client.get(url)
    assert response.status_code == 200
    assert _leaks(response.content, root_key) == []


def test_it_marks_roots_withheld_cells_alike_on_page_and_csv(auditor, alice_client, root_key):
    page, sheet = _page(alice_client)["<root>"], _csv(alice_client)["<root>"]
    for column in ("key_1_id", "password_last_changed"):
        assert page[column] == sheet[column] == reports.WITHHELD
    assert sheet["key_1_last_used_from"] == sheet["key_2_id"] == reports.WITHHELD
    assert sheet["password_set"] == "true"


def test_it_still_shows_sam_users_keys_to_an_auditor(auditor, alice_client, keys, root_key):
    assert _csv(alice_client)["robot"]["key_1_last_used_from"] == "198.51.100.7"


def test_it_shows_roots_keys_to_root(root_client, root_key):
    sheet = _csv(root_client)["<root>"]
    assert sheet["key_1_id"] == root_key.key_id
    assert sheet["key_1_last_used_from"] == "192.0.2.77"
    assert _page(root_client)["<root>"]["key_1_id"].startswith(root_key.key_id)


def test_it_applies_the_api_rule_for_roots_keys(alice, alice_api, root_key):
    _everything(alice)
    path = f"/v1/operators/{alice.operator_id}/auth_keys"
    assert Client().get(path, **alice_api).status_code == 403


def _allow(alice, statements: list[dict]) -> None:
    import json

    from accounts import policy

    policy.clear_cache()
    alice.inline_permission = json.dumps({"statements": statements})
    alice.save()
    alice.operator.bump_policy_version()


REPORT_ONLY = [{"effect": "allow", "api": reports.REPORT_API}]


@pytest.mark.parametrize(
    "url", ["/security/reports/credentials/", "/security/reports/credentials.csv"]
)
def test_it_withholds_a_sam_users_keys_from_a_reader_who_may_not_list_them(
    alice, alice_client, keys, url
):
    _allow(alice, REPORT_ONLY)
    body = alice_client.get(url).content
    assert keys["robot"].key_id.encode() not in body
    assert b"198.51.100.7" not in body


def test_it_marks_a_sam_users_withheld_cells_alike_on_page_and_csv(alice, alice_client, keys):
    _allow(alice, REPORT_ONLY)
    page, sheet = _page(alice_client)["robot"], _csv(alice_client)["robot"]
    assert page["key_1_id"] == sheet["key_1_id"] == reports.WITHHELD
    assert sheet["key_1_last_used_from"] == sheet["password_last_changed"] == reports.WITHHELD


def test_it_shows_a_reader_the_keys_of_the_users_it_may_list(alice, alice_client, keys):
    # The same condition as the API's: listing only its own keys shows only its own row.
    _allow(
        alice,
        [
            *REPORT_ONLY,
            {
                "effect": "allow",
                "api": reports.USER_KEYS_API,
                "condition": "pathVariable('user_name') == samUserName",
            },
        ],
    )
    sheet = _csv(alice_client)
    assert sheet["alice"]["key_1_id"] == keys["alice"].key_id
    assert sheet["robot"]["key_1_id"] == reports.WITHHELD


def test_it_shows_a_keys_expiry_status_and_the_14_day_flag(root, alice, root_client):
    soon, _ = authkeys.generate(None, root, alice, expires_at=timezone.now() + timedelta(days=3))
    authkeys.set_active(None, root, soon, False)
    row = _csv(root_client)["alice"]
    assert row["key_1_status"] == "inactive"
    assert row["key_1_expires"].startswith(soon.expires_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert _page(root_client)["alice"]["key_1_expires"] == row["key_1_expires"]
    assert (
        "data-expiring-soon" in root_client.get("/security/reports/credentials/").content.decode()
    )
