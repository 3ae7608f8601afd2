"""Recording successful reads: the operator's setting, off by default (security/read_audit.py)."""

import pytest

from accounts.models import Operator
from security import read_audit
from security.models import AuditEntry
from tests.api.harness import call


def reads(action: str):
    return AuditEntry.objects.filter(action=action, details__read=True)


@pytest.fixture
def recording(root, operator):
    read_audit.set_records_reads(None, root, True)


# Access first -------------------------------------------------------------------------


def test_it_refuses_the_settings_to_a_sam_user_without_the_permission(alice_client, operator):
    response = alice_client.post("/security/audit/settings", {"record_reads": "on"})
    assert response.status_code == 403
    assert Operator.objects.get(pk=operator.pk).record_reads is False


def test_it_changes_only_the_callers_operator(outsider_client, operator, outsider):
    outsider_client.post("/security/audit/settings", {"record_reads": "on"})
    assert Operator.objects.get(pk=operator.pk).record_reads is False
    assert Operator.objects.get(pk=outsider.operator_id).record_reads is True


# Behaviour ----------------------------------------------------------------------------


def test_it_records_no_read_by_default(root_api, operator):
    assert call("GET", f"/v1/operators/{operator.id}/users", root_api).status_code == 200
    assert not reads("User:listUsers").exists()


def test_it_records_a_successful_api_read_when_asked(recording, root_api, operator, alice):
    response = call("GET", f"/v1/operators/{operator.id}/users/alice", root_api)
    assert response.status_code == 200
    entry = reads("User:getUser").get()
    assert (entry.operator_id, entry.target, entry.outcome, entry.request_path) == (
        operator.id,
        "alice",
        "allowed",
        f"/v1/operators/{operator.id}/users/alice",
    )


def test_it_records_no_read_for_a_failed_call(recording, root_api, operator):
    assert call("GET", f"/v1/operators/{operator.id}/users/nobody", root_api).status_code == 404
    assert not reads("User:getUser").exists()


def test_it_records_no_read_for_a_write(recording, root_api, operator):
    call("POST", f"/v1/operators/{operator.id}/users/bob", root_api, {})
    assert not AuditEntry.objects.filter(details__read=True).exists()


def test_it_records_a_console_read_as_its_api_twin(recording, root_client):
    assert root_client.get("/security/users/").status_code == 200
    assert reads("User:listUsers").get().request_path == "/security/users/"


def test_it_switches_from_the_console_and_records_the_change(root_client, operator, root_api):
    response = root_client.post("/security/audit/settings", {"record_reads": "on"})
    assert response.status_code == 302
    assert Operator.objects.get(pk=operator.pk).record_reads is True
    change = AuditEntry.objects.get(action="AuditLog:updateAuditSettings")
    assert change.details == {"recordReads": True}
    call("GET", f"/v1/operators/{operator.id}/users", root_api)
    assert reads("User:listUsers").exists()


def test_it_stops_recording_at_once_when_switched_off(recording, root, root_api, operator):
    call("GET", f"/v1/operators/{operator.id}/users", root_api)
    read_audit.set_records_reads(None, root, False)
    call("GET", f"/v1/operators/{operator.id}/users", root_api)
    assert reads("User:listUsers").count() == 1


def test_it_writes_no_entry_when_nothing_changes(root, operator):
    assert read_audit.set_records_reads(None, root, False) is False
    assert not AuditEntry.objects.filter(action="AuditLog:updateAuditSettings").exists()


def test_it_keeps_the_answer_per_policy_version(root, operator):
    version = Operator.objects.get(pk=operator.pk).policy_version
    assert read_audit.records_reads(operator.id, version) is False
    read_audit.set_records_reads(None, root, True)
    # Another process holding the old version's answer sees the new version on its next call.
    assert read_audit.records_reads(operator.id) is True
    assert Operator.objects.get(pk=operator.pk).policy_version == version + 1
