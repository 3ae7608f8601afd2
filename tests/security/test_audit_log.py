"""The Audit log tab: access, filters, pages, safe display and the CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from security import audit, auditlog, authkeys
from security.models import AuditEntry

pytestmark = pytest.mark.django_db

HOSTILE = '\x1b[2J\x1b[31mowned\r\nFAKE: allowed","outcome":"allowed"}<script>alert(1)</script>'


def _csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def trail(operator, root, alice):
    audit.record(None, "User:createUser", operator=operator, principal=root, target="bob")
    audit.record(
        None, "User:deleteUser", operator=operator, principal=alice, target="bob", outcome="denied"
    )
    audit.record(
        None, "Auth:auth", operator=operator, principal=alice, auth_key_id="keyId-" + "a" * 32
    )
    return AuditEntry.objects.filter(operator=operator)


def test_it_redirects_anonymous_visitors_to_sign_in(client):
    response = client.get("/security/audit/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_it_refuses_a_sam_user_without_permission(alice_client, trail):
    assert alice_client.get("/security/audit/").status_code == 403
    assert alice_client.get("/security/audit/export.csv").status_code == 403


def test_it_shows_only_the_operators_own_entries(outsider_client, trail):
    response = outsider_client.get("/security/audit/")
    assert response.status_code == 200
    assert b"bob" not in response.content


def test_it_lists_entries_newest_first(root_client, trail):
    response = root_client.get("/security/audit/")
    actions = [r.entry.action for r in response.context["rows"]]
    assert actions == ["Auth:auth", "User:deleteUser", "User:createUser"]


def test_it_filters_by_outcome(root_client, trail):
    response = root_client.get("/security/audit/", {"outcome": "denied"})
    assert [r.entry.action for r in response.context["rows"]] == ["User:deleteUser"]


def test_it_filters_by_actor(root_client, trail):
    response = root_client.get("/security/audit/", {"actor": "root@example.com"})
    assert [r.entry.action for r in response.context["rows"]] == ["User:createUser"]


def test_it_filters_by_authkey_id_as_actor(root_client, trail):
    response = root_client.get("/security/audit/", {"actor": "keyId-" + "a" * 32})
    assert [r.entry.action for r in response.context["rows"]] == ["Auth:auth"]


def test_it_filters_by_action_prefix(root_client, trail):
    response = root_client.get("/security/audit/", {"action": "User:*"})
    assert {r.entry.action for r in response.context["rows"]} == {
        "User:createUser",
        "User:deleteUser",
    }


def test_it_filters_by_date_range(root_client, trail):
    today = timezone.now().date()
    hit = root_client.get("/security/audit/", {"since": today, "until": today})
    miss = root_client.get("/security/audit/", {"until": today - timedelta(days=1)})
    assert len(hit.context["rows"]) == 3
    assert miss.context["rows"] == []


def test_it_refuses_an_inverted_date_range(root_client, trail):
    today = timezone.now().date()
    response = root_client.get(
        "/security/audit/", {"since": today, "until": today - timedelta(days=2)}
    )
    assert response.status_code == 400
    assert b"The end date is before the start date." in response.content


def test_it_renders_only_the_list_for_htmx(root_client, trail):
    response = root_client.get(
        "/security/audit/",
        {"outcome": "denied"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="audit-list",
    )
    assert response.content.decode().lstrip().startswith('<div id="audit-list">')
    assert b"<html" not in response.content


def test_it_pages_through_entries(root_client, operator, root):
    for n in range(55):
        audit.record(None, "User:updateUser", operator=operator, principal=root, target=f"u{n}")
    first = root_client.get("/security/audit/")
    second = root_client.get("/security/audit/", {"page": 2})
    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 5
    assert second.context["rows"][-1].target == "u0"


def test_it_shows_hostile_values_inert(root_client, operator, root):
    audit.record(None, "User:createUser", operator=operator, principal=root, target=HOSTILE)
    body = root_client.get("/security/audit/").content.decode()
    assert "\x1b" not in body
    assert "\\x1b[31mowned\\r\\nFAKE" in body
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


def test_it_exports_the_filtered_set_as_csv(root_client, trail):
    response = root_client.get("/security/audit/export.csv", {"outcome": "denied"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert [(r["action"], r["outcome"], r["target"]) for r in rows] == [
        ("User:deleteUser", "denied", "bob")
    ]


def test_it_exports_every_field_of_an_entry(root_client, operator, alice):
    entry = audit.record(
        None, "Auth:auth", operator=operator, principal=alice, auth_key_id="keyId-" + "b" * 32
    )
    (row,) = _csv(root_client.get("/security/audit/export.csv"))
    assert row["actor_kind"] == "authkey"
    assert row["user_name"] == "alice"
    assert row["auth_key_id"] == "keyId-" + "b" * 32
    assert row["seq"] == str(entry.seq)
    assert row["entry_hash"] == entry.entry_hash


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_it_defuses_formulas_in_csv_cells(root_client, operator, root, start):
    audit.record(
        None,
        "User:createUser",
        operator=operator,
        principal=root,
        target=f"{start}cmd|' /C calc'!A0",
    )
    (row,) = _csv(root_client.get("/security/audit/export.csv"))
    assert row["target"].startswith("'")


def test_it_keeps_one_entry_per_csv_line(root_client, operator, root):
    audit.record(None, "User:createUser", operator=operator, principal=root, target=HOSTILE)
    text = b"".join(root_client.get("/security/audit/export.csv").streaming_content).decode()
    assert len(text.strip().split("\r\n")) == 2
    assert "\x1b" not in text


def test_it_makes_control_and_bidi_characters_visible():
    assert auditlog.printable("a\r\nb\x1b[0m\u202ec\x00") == "a\\r\\nb\\x1b[0m\\u202ec\\x00"


def test_it_flags_a_self_escalation(root_client, operator, alice):
    audit.record(
        None,
        "User:updateUserPermission",
        operator=operator,
        principal=alice,
        target="alice",
        details={"selfEscalation": True, "statements": 1},
    )
    body = root_client.get("/security/audit/").content.decode()
    assert "self-escalation" in body
    assert "&quot;statements&quot;: 1" in body


def test_it_never_echoes_a_secret_pasted_into_the_audit_filter(root_client, root):
    _, secret = authkeys.generate(None, root, root)
    response = root_client.get("/security/audit/", {"actor": secret})
    assert secret not in response.content.decode()
