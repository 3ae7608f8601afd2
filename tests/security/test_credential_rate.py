"""LATCHKEY_CREDENTIAL_WRITES_PER_HOUR: credential-set writes per principal per rolling hour."""

import threading
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from django.db import connection, connections
from django.utils import timezone

from accounts.models import Operator, Principal
from security import credential_rate, credentials
from security.models import AuditEntry, CredentialSet, CredentialWrite
from tests.api.harness import call, error_of
from tests.security.credential_samples import make_cert, sample_fields

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def limit_of_three(settings):
    settings.LATCHKEY_CREDENTIAL_WRITES_PER_HOUR = 3


def create(actor, cid, kind="psk", fields=None):
    return credentials.create_credential_set(
        None, actor, cid, kind, "", sample_fields(kind) if fields is None else fields
    )


def test_it_refuses_the_write_beyond_the_hourly_limit(root, limit_of_three):
    cs = create(root, "a")
    credentials.update_credential_set(None, root, cs, description="second")
    create(root, "b")
    with pytest.raises(credentials.WriteRateLimited, match="Try again in"):
        create(root, "c")
    assert sorted(CredentialSet.objects.values_list("credentials_id", flat=True)) == ["a", "b"]


def test_it_counts_updates_and_deletes_as_writes(root, limit_of_three):
    cs = create(root, "a")
    cs = credentials.update_credential_set(None, root, cs, description="x")
    credentials.delete_credential_set(None, root, cs)
    with pytest.raises(credentials.WriteRateLimited):
        create(root, "b")
    assert not CredentialSet.objects.exists()


def test_it_refuses_an_update_and_a_delete_beyond_the_limit(root, settings):
    cs = create(root, "a")
    settings.LATCHKEY_CREDENTIAL_WRITES_PER_HOUR = 1
    with pytest.raises(credentials.WriteRateLimited):
        credentials.update_credential_set(None, root, cs, description="changed")
    with pytest.raises(credentials.WriteRateLimited):
        credentials.delete_credential_set(None, root, cs)
    cs.refresh_from_db()
    assert cs.description == ""


def test_it_counts_refused_attempts_too(root, limit_of_three):
    for _ in range(3):
        with pytest.raises(credentials.CredentialsInvalid):
            create(root, "bad", fields={"key": "short"})
    with pytest.raises(credentials.WriteRateLimited):
        create(root, "good")
    assert not CredentialSet.objects.exists()


def test_it_refuses_before_parsing_any_key_material(root, limit_of_three, monkeypatch):
    for i in range(3):
        create(root, f"s{i}")
    loads = []
    monkeypatch.setattr(serialization, "load_pem_private_key", lambda *a, **k: loads.append(a))
    cert, key = make_cert()
    with pytest.raises(credentials.WriteRateLimited):
        create(root, "x", "x509", {"cert": cert, "key": key})
    assert loads == []


def test_it_audits_a_refusal_without_its_input(root, limit_of_three):
    for i in range(3):
        create(root, f"s{i}")
    with pytest.raises(credentials.WriteRateLimited):
        create(root, "over", fields={"key": "canary-psk-RATE-1"})
    entry = AuditEntry.objects.get(action="Credential:createCredential", outcome="failed")
    assert (entry.target, entry.details) == ("over", {"reason": "rate", "perHour": 3})
    assert "canary" not in repr(entry.details)


def test_it_counts_per_principal(root, alice, limit_of_three):
    for i in range(3):
        create(root, f"s{i}")
    create(alice, "alices")
    assert CredentialSet.objects.filter(credentials_id="alices").exists()


def test_it_allows_writes_again_once_the_hour_has_passed(root, limit_of_three, monkeypatch):
    for i in range(3):
        create(root, f"s{i}")
    later = timezone.now() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(credential_rate, "_now", lambda: later)
    create(root, "next-hour")
    assert CredentialWrite.objects.filter(principal=root).count() == 1  # old rows pruned


def test_it_says_when_to_retry(root, limit_of_three, monkeypatch):
    start = timezone.now()
    monkeypatch.setattr(credential_rate, "_now", lambda: start)
    for i in range(3):
        create(root, f"s{i}")
    monkeypatch.setattr(credential_rate, "_now", lambda: start + timedelta(minutes=20))
    with pytest.raises(credentials.WriteRateLimited) as info:
        create(root, "x")
    assert info.value.retry_after == 40 * 60 + 1


# --- API --------------------------------------------------------------------------------


def test_it_answers_429_with_retry_after_in_the_api(root_api, root, limit_of_three):
    for i in range(3):
        body = {"type": "psk", "credentials": sample_fields("psk")}
        assert call("POST", f"/v1/credentials/s{i}", root_api, body).status_code == 201
    body = {"type": "psk", "credentials": sample_fields("psk")}
    response = call("POST", "/v1/credentials/s3", root_api, body)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert error_of(response)["code"] == "LKY0429"
    assert not CredentialSet.objects.filter(credentials_id="s3").exists()


def test_it_answers_429_to_an_api_update_and_delete_beyond_the_limit(root_api, root, settings):
    create(root, "a")
    settings.LATCHKEY_CREDENTIAL_WRITES_PER_HOUR = 1
    assert call("PUT", "/v1/credentials/a", root_api, {"description": "x"}).status_code == 429
    assert call("DELETE", "/v1/credentials/a", root_api).status_code == 429
    assert CredentialSet.objects.get(credentials_id="a").description == ""


# --- console ----------------------------------------------------------------------------


def test_it_shows_the_limit_in_the_register_dialog(root_client, root, limit_of_three):
    for i in range(3):
        create(root, f"s{i}")
    data = {"credentials_id": "s3", "description": "", "type": "psk", "c__key": "long-psk-value"}
    response = root_client.post("/security/credentials/new", data, **HX)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many credential set changes" in response.content.decode()
    assert not CredentialSet.objects.filter(credentials_id="s3").exists()


def test_it_shows_the_limit_in_the_update_dialog(root_client, root, settings):
    create(root, "a")
    settings.LATCHKEY_CREDENTIAL_WRITES_PER_HOUR = 1
    response = root_client.post("/security/credentials/a/update", {"description": "x"}, **HX)
    assert response.status_code == 429
    assert "Too many credential set changes" in response.content.decode()
    assert CredentialSet.objects.get(credentials_id="a").description == ""


def test_it_shows_the_limit_in_the_delete_dialog(root_client, root, settings):
    create(root, "a")
    settings.LATCHKEY_CREDENTIAL_WRITES_PER_HOUR = 1
    response = root_client.post("/security/credentials/a/delete", **HX)
    assert response.status_code == 429
    assert "Too many credential set changes" in response.content.decode()
    assert CredentialSet.objects.filter(credentials_id="a").exists()


# --- concurrency ------------------------------------------------------------------------

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite's test DB cannot race"
)


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_holds_the_limit_under_concurrent_writes(settings):
    settings.LATCHKEY_CREDENTIAL_WRITES_PER_HOUR = 5
    operator = Operator.create()
    root = Principal.objects.create_root(operator, "rate@example.com", "x-Password-123456")
    barrier = threading.Barrier(20)
    created: list[str] = []
    limited: list[int] = []
    errors: list[BaseException] = []

    def attempt(n: int) -> None:
        try:
            barrier.wait()
            cs = credentials.create_credential_set(
                None, root, f"race-{n:02d}", "psk", "", {"key": f"race-key-{n:04d}"}
            )
            created.append(cs.credentials_id)
        except credentials.WriteRateLimited as exc:
            limited.append(exc.retry_after)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (len(created), len(limited)) == (5, 15)
    assert CredentialSet.objects.filter(operator=operator).count() == 5
    assert CredentialWrite.objects.filter(principal=root).count() == 5
