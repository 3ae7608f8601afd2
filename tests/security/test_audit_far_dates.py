"""Audit filters at the ends of the calendar answer, never 500 (issue 9 item 10)."""

import csv
import io

import pytest

from security import audit, auditlog
from tests.api.harness import call

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(operator, root):
    return audit.record(None, "User:createUser", operator=operator, principal=root, target="bob")


def _csv_targets(response) -> list[str]:
    text = b"".join(response.streaming_content).decode()
    return [row["target"] for row in csv.DictReader(io.StringIO(text))]


def test_it_lists_entries_until_the_last_day_of_the_calendar(root_client, entry):
    response = root_client.get("/security/audit/", {"until": "9999-12-31"})
    assert response.status_code == 200
    assert [row.entry.pk for row in response.context["rows"]] == [entry.pk]


def test_it_exports_entries_until_the_last_day_of_the_calendar(root_client, entry):
    response = root_client.get("/security/audit/export.csv", {"until": "9999-12-31"})
    assert response.status_code == 200
    assert _csv_targets(response) == ["bob"]


def test_it_lists_nothing_since_the_last_day_of_the_calendar(root_client, entry):
    response = root_client.get("/security/audit/", {"since": "9999-12-31", "until": "9999-12-31"})
    assert response.status_code == 200
    assert response.context["rows"] == []


def test_it_lists_entries_since_the_first_day_of_the_calendar(root_client, entry):
    response = root_client.get("/security/audit/export.csv", {"since": "0001-01-01"})
    assert _csv_targets(response) == ["bob"]


def test_it_refuses_a_date_past_the_calendar_as_a_bad_filter(root_client, entry):
    response = root_client.get("/security/audit/", {"until": "10000-01-01"})
    assert response.status_code == 400
    assert "until" in response.context["form"].errors


@pytest.mark.parametrize(
    "params",
    [
        {"to_epoch_ms": str(auditlog.MAX_EPOCH_MS)},
        {"from_epoch_ms": "0", "to_epoch_ms": str(auditlog.MAX_EPOCH_MS)},
        {"last_evaluated_key": str(auditlog.MAX_EPOCH_MS)},
    ],
)
def test_it_reads_the_api_log_up_to_the_last_millisecond(root_api, entry, params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = call("GET", f"/v1/audit_logs/api?{query}", root_api)
    assert response.status_code == 200
    assert "User:createUser" in [item["apiName"] for item in response.json()]


@pytest.mark.parametrize(
    "params", ["to_epoch_ms=253402300800000", "from_epoch_ms=99999999999999999999", "limit=-1"]
)
def test_it_refuses_api_bounds_past_the_calendar_with_400(root_api, entry, params):
    response = call("GET", f"/v1/audit_logs/api?{params}", root_api)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"}
