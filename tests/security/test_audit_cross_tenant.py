"""Cross-tenant probes leave a trace in the prober's own chain, never in the target's."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from accounts import throttle
from accounts.models import Principal
from security import authkeys, roles
from security.models import AuditEntry, AuthKey
from tests.conftest import api_login

pytestmark = pytest.mark.django_db

MISSING_OPERATOR = "OP0000000000"


def _without_nonces(html: bytes) -> bytes:
    """Return a page without what differs on every response (CSP nonces, masked CSRF token)."""
    return re.sub(rb'(nonce="|"X-CSRFToken": ")[^"]*"', rb"\1", html)


def _get(path: str, headers: dict):
    return Client().get(path, **headers)


def _probes(chain: str) -> list[AuditEntry]:
    entries = AuditEntry.objects.filter(chain=chain, outcome="denied", details__crossTenant=True)
    return list(entries.order_by("seq"))


def test_it_records_a_probe_in_the_callers_chain(outsider, outsider_api, operator, alice):
    response = _get(f"/v1/operators/{operator.pk}/users/alice", outsider_api)
    assert response.status_code == 404
    (probe,) = _probes(outsider.operator_id)
    assert probe.action == "User:getUser"
    assert probe.target == operator.pk
    assert (probe.actor_kind, probe.actor) == ("root", outsider.email)
    assert probe.request_path == f"/v1/operators/{operator.pk}/users/alice"


def test_it_leaves_nothing_in_the_targets_chain(outsider, outsider_api, operator, alice):
    before = list(AuditEntry.objects.filter(chain=operator.pk).values_list("id", flat=True))
    _get(f"/v1/operators/{operator.pk}/users/alice", outsider_api)
    _get(f"/v1/operators/{operator.pk}/auth_keys", outsider_api)
    after = list(AuditEntry.objects.filter(chain=operator.pk).values_list("id", flat=True))
    assert after == before


def test_it_answers_a_probe_exactly_like_a_missing_operator(outsider_api, operator, alice):
    probe = _get(f"/v1/operators/{operator.pk}/users/alice", outsider_api)
    missing = _get(f"/v1/operators/{MISSING_OPERATOR}/users/alice", outsider_api)
    assert (probe.status_code, probe.content) == (missing.status_code, missing.content)
    assert probe.json() == {"code": "LKY0404", "message": "Not found."}


def test_it_records_the_same_entry_for_a_missing_operator(
    outsider, outsider_api, operator, alice, monkeypatch, settings
):
    # Two windows apart: within one, the second refusal of an action is only counted.
    moment = [datetime.now(UTC)]
    monkeypatch.setattr(throttle, "_now", lambda: moment[0])
    _get(f"/v1/operators/{operator.pk}/users/alice", outsider_api)
    moment[0] += timedelta(seconds=settings.LATCHKEY_THROTTLE_WINDOW)
    _get(f"/v1/operators/{MISSING_OPERATOR}/users/alice", outsider_api)
    real, missing = _probes(outsider.operator_id)

    def what(entry: AuditEntry) -> tuple:
        details = {k: v for k, v in entry.details.items() if k != "aggregated"}  # its window
        return entry.action, entry.outcome, details

    assert what(real) == what(missing)
    assert missing.target == MISSING_OPERATOR


def test_it_records_a_refused_write_and_changes_nothing(outsider, outsider_api, operator, root):
    response = Client().post(
        f"/v1/operators/{operator.pk}/auth_keys", content_type="application/json", **outsider_api
    )
    assert response.status_code == 404
    assert not AuthKey.objects.filter(operator=operator).exists()
    (probe,) = _probes(outsider.operator_id)
    assert probe.action == "Operator:generateOperatorAuthKey"


def test_it_names_the_authkey_that_probed(outsider, operator):
    key, secret = authkeys.generate(None, outsider, outsider)
    data = api_login(Client(), authKeyId=key.key_id, authKey=secret)
    headers = {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}
    _get(f"/v1/operators/{operator.pk}/roles", headers)
    (probe,) = _probes(outsider.operator_id)
    assert probe.auth_key_id == key.key_id


def test_it_marks_a_probe_the_permission_check_refused(outsider, operator):
    # A SAM user of the prober's operator with no permissions: 403 comes first, same for any
    # operator ID, and the denial says that the path named another operator.
    sam = Principal.objects.create_sam_user(outsider.operator, "scout")
    sam.set_password("scout-Password-1234")
    sam.save()
    data = api_login(
        Client(), operatorId=outsider.operator_id, userName="scout", password="scout-Password-1234"
    )
    headers = {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}
    assert _get(f"/v1/operators/{operator.pk}/users", headers).status_code == 403
    (probe,) = _probes(outsider.operator_id)
    assert probe.actor == "scout"
    assert probe.target == operator.pk


def test_it_records_nothing_special_for_a_call_on_the_callers_own_operator(root, root_api):
    _get(f"/v1/operators/{root.operator_id}/users", root_api)
    assert _probes(root.operator_id) == []


def test_it_keeps_an_ordinary_denial_unmarked(root, alice, alice_api):
    roles.set_inline_permission(
        None, root, alice, json.dumps({"statements": [{"effect": "deny", "api": "User:*"}]})
    )
    _get(f"/v1/operators/{root.operator_id}/users/alice", alice_api)
    denial = AuditEntry.objects.get(chain=root.operator_id, outcome="denied")
    assert "crossTenant" not in denial.details
    assert denial.target == "alice"


# Staff pages: a look at an operator without its grant ---------------------------------


@pytest.fixture
def staff_client(db) -> Client:
    staff = Principal.objects.create_staff(
        "helpdesk", "staff-Password-4321", Principal.StaffRole.SUPPORT
    )
    client = Client()
    client.force_login(staff, backend="accounts.backends.StaffBackend")
    return client


def test_it_records_a_staff_look_without_a_grant_in_the_installation_chain(
    staff_client, operator, root
):
    before = AuditEntry.objects.filter(chain=operator.pk).count()
    assert staff_client.get(f"/staff/operators/{operator.pk}/").status_code == 404
    assert AuditEntry.objects.filter(chain=operator.pk).count() == before
    refused = AuditEntry.objects.get(chain="", action="Support:viewOperator")
    assert (refused.outcome, refused.actor, refused.target) == ("denied", "helpdesk", operator.pk)


def test_it_records_the_same_staff_refusal_for_a_missing_operator(staff_client, operator, root):
    present = staff_client.get(f"/staff/operators/{operator.pk}/")
    missing = staff_client.get(f"/staff/operators/{MISSING_OPERATOR}/")
    assert present.status_code == missing.status_code == 404
    assert _without_nonces(present.content) == _without_nonces(missing.content)
    first, second = AuditEntry.objects.filter(chain="", action="Support:viewOperator").order_by(
        "seq"
    )
    assert first.details == second.details
