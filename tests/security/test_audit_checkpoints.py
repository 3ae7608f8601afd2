"""Signed checkpoints: the witness outside the database that the end of a chain was not cut."""

import base64
import json
import logging
from datetime import timedelta
from io import StringIO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from accounts.models import Operator, Principal
from security import audit, checkpoints, reports, roles
from security.models import AuditChainHead, AuditEntry
from tests.conftest import api_login
from tests.security.auditsupport import age, raw, reseal

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("audit_prune_role")]


def _entries(operator: Operator, root: Principal, n: int) -> list[AuditEntry]:
    return [
        audit.record(None, "User:updateUser", operator=operator, principal=root, target=f"u{i}")
        for i in range(n)
    ]


def _save(tmp_path, checkpoint: dict, name: str = "cp.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(checkpoint))
    return str(path)


def _verify(*args: str) -> tuple[str, str]:
    """Run verify_audit; return (stdout, stderr), raising CommandError when it fails."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except CommandError:
        raise AssertionError(err.getvalue()) from None
    return out.getvalue(), err.getvalue()


def _verify_fails(*args: str) -> str:
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", *args, stdout=StringIO(), stderr=err)
    return err.getvalue()


def _truncate(chain: str, keep: int) -> None:
    """Delete the newest entries and rewind the head: a chain that verifies on its own."""
    last = AuditEntry.objects.get(chain=chain, seq=keep)
    raw("DELETE FROM security_auditentry WHERE chain = %s AND seq > %s", [chain, keep])
    AuditChainHead.objects.filter(pk=chain).update(seq=keep, last_hash=last.entry_hash)


# Issuing ---------------------------------------------------------------------------


def test_it_names_the_chain_its_newest_entry_and_the_time(operator, root):
    *_, last = _entries(operator, root, 3)
    checkpoint = checkpoints.for_chain(operator.pk)
    assert checkpoint["chains"] == [{"chain": operator.pk, "seq": 3, "headHash": last.entry_hash}]
    assert checkpoint["format"] == checkpoints.FORMAT
    assert checkpoint["scope"] == "chain"
    assert abs(timezone.now() - _parse(checkpoint["issuedAt"])) < timedelta(minutes=1)


def _parse(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_it_signs_the_documented_bytes_with_ed25519(operator, root):
    # An auditor's own check, written from docs/audit.md rather than from the code.
    _entries(operator, root, 2)
    checkpoint = checkpoints.for_chain(operator.pk)
    body = {k: v for k, v in checkpoint.items() if k != "signature"}
    message = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    public = Ed25519PublicKey.from_public_bytes(unb64(checkpoint["publicKey"]))
    public.verify(unb64(checkpoint["signature"]), message)  # raises if it does not verify


def test_it_derives_a_signing_key_that_is_not_the_chain_key(settings):
    from security import auditkeys

    key = auditkeys.checkpoint_key(settings.LATCHKEY_PEPPER)
    raw_private = key.private.private_bytes_raw()
    assert raw_private != auditkeys.chain_key(settings.LATCHKEY_PEPPER)
    assert raw_private not in settings.LATCHKEY_PEPPER.encode()


def test_it_writes_every_checkpoint_to_the_application_log(operator, root, caplog):
    _entries(operator, root, 1)
    with caplog.at_level(logging.INFO, logger="latchkey.audit.checkpoint"):
        checkpoint = checkpoints.for_chain(operator.pk)
    logged = checkpoints.load(caplog.text)
    assert logged == [checkpoint]


def test_it_covers_every_chain_in_an_installation_checkpoint(operator, root, outsider):
    _entries(operator, root, 2)
    audit.record(None, "User:createUser", operator=outsider.operator, principal=outsider)
    audit.record(None, "Auth:auth", operator=None, outcome="failed")
    checkpoint = checkpoints.for_installation()
    named = {p["chain"]: p["seq"] for p in checkpoint["chains"]}
    assert named == {"": 1, operator.pk: 2, outsider.operator_id: 1}
    assert checkpoint["scope"] == "installation"


def test_it_prints_a_checkpoint_from_the_command(operator, root, tmp_path):
    _entries(operator, root, 2)
    out = StringIO()
    call_command("audit_checkpoint", "--out", str(tmp_path / "cp.json"), stdout=out)
    printed = json.loads(out.getvalue())
    assert printed == json.loads((tmp_path / "cp.json").read_text())
    checkpoints.verify_signature(printed)


def test_it_prints_the_public_keys(settings):
    out = StringIO()
    call_command("audit_checkpoint", "--public-keys", stdout=out)
    key_id, public = out.getvalue().split()
    assert public == checkpoints.public_keys()[0].public_b64
    assert key_id == checkpoints.public_keys()[0].key_id


# Verifying -------------------------------------------------------------------------


def test_it_proves_that_the_log_extends_a_checkpoint(operator, root, tmp_path):
    _entries(operator, root, 3)
    path = _save(tmp_path, checkpoints.for_chain(operator.pk))
    _entries(operator, root, 2)  # the log goes on after the checkpoint
    out, _ = _verify("--checkpoint", path)
    assert "extends the checkpoint (the chain is now at seq 5)" in out


def test_it_detects_a_cut_end_that_the_chain_alone_cannot_show(operator, root, tmp_path):
    _entries(operator, root, 5)
    path = _save(tmp_path, checkpoints.for_chain(operator.pk))
    _truncate(operator.pk, keep=3)
    _verify()  # without a witness the shortened chain looks whole
    err = _verify_fails("--checkpoint", path)
    assert f"chain {operator.pk} at seq 5: its entry is missing" in err
    assert "now ends at seq 3" in err


def test_it_detects_a_rewritten_end(operator, root, tmp_path):
    entries = _entries(operator, root, 3)
    path = _save(tmp_path, checkpoints.for_chain(operator.pk))
    raw("UPDATE security_auditentry SET target = 'forged' WHERE id = %s", [entries[2].pk])
    reseal(operator.pk)  # someone holding the pepper re-seals the chain
    _verify()
    assert "no longer has the checkpoint's hash" in _verify_fails("--checkpoint", path)


def test_it_detects_a_whole_chain_dropped(operator, root, outsider, tmp_path):
    _entries(operator, root, 2)
    audit.record(None, "User:createUser", operator=outsider.operator, principal=outsider)
    path = _save(tmp_path, checkpoints.for_installation())
    raw("DELETE FROM security_auditentry WHERE chain = %s", [operator.pk])
    AuditChainHead.objects.filter(pk=operator.pk).delete()
    _verify()
    err = _verify_fails("--checkpoint", path)
    assert f"chain {operator.pk} at seq 2: the chain no longer exists" in err


def test_it_reports_a_broken_chain_beyond_the_checkpoint(operator, root, tmp_path):
    _entries(operator, root, 2)
    path = _save(tmp_path, checkpoints.for_chain(operator.pk))
    later = _entries(operator, root, 1)[0]
    raw("UPDATE security_auditentry SET target = 'x' WHERE id = %s", [later.pk])
    assert "the chain no longer verifies" in _verify_fails("--checkpoint", path)


def test_it_refuses_a_checkpoint_whose_claim_was_changed(operator, root, tmp_path):
    _entries(operator, root, 5)
    checkpoint = checkpoints.for_chain(operator.pk)
    checkpoint["chains"][0]["seq"] = 3  # to make a cut at seq 3 look covered
    _truncate(operator.pk, keep=3)
    err = _verify_fails("--checkpoint", _save(tmp_path, checkpoint))
    assert "signature does not verify" in err


def test_it_refuses_a_checkpoint_signed_with_another_key(operator, root, tmp_path, settings):
    _entries(operator, root, 1)
    checkpoint = checkpoints.for_chain(operator.pk)
    settings.LATCHKEY_PEPPER = "B" * 20 + "another-pepper-0123456789"
    settings.LATCHKEY_PEPPER_FALLBACKS = []
    err = _verify_fails("--checkpoint", _save(tmp_path, checkpoint))
    assert "no configured pepper derives" in err


def test_it_checks_a_checkpoint_with_a_pinned_public_key(operator, root, tmp_path, settings):
    _entries(operator, root, 1)
    checkpoint = checkpoints.for_chain(operator.pk)
    pinned = checkpoint["publicKey"]
    path = _save(tmp_path, checkpoint)
    _verify("--checkpoint", path, "--public-key", pinned)
    other = checkpoints.public_keys()[0]
    settings.LATCHKEY_PEPPER = "C" * 20 + "yet-another-pepper-01234567"
    wrong = checkpoints.public_keys()[0].public_b64
    assert other.public_b64 != wrong
    assert "does not verify" in _verify_fails("--checkpoint", path, "--public-key", wrong)


def test_it_verifies_an_old_checkpoint_after_a_pepper_rotation(operator, root, tmp_path, settings):
    _entries(operator, root, 2)
    path = _save(tmp_path, checkpoints.for_chain(operator.pk))
    settings.LATCHKEY_PEPPER_FALLBACKS = [settings.LATCHKEY_PEPPER]
    settings.LATCHKEY_PEPPER = "D" * 20 + "rotated-pepper-0123456789ab"
    _entries(operator, root, 1)
    out, _ = _verify("--checkpoint", path)
    assert "extends the checkpoint" in out


def test_it_reads_checkpoints_from_application_log_lines(operator, root, tmp_path, caplog):
    _entries(operator, root, 2)
    with caplog.at_level(logging.INFO, logger="latchkey.audit.checkpoint"):
        checkpoints.for_chain(operator.pk)
        checkpoints.for_installation()
    log = tmp_path / "app.log"
    log.write_text("2026-12-01 10:00:00 INFO other line {not json}\n" + caplog.text)
    out, _ = _verify("--checkpoint", str(log))
    assert "#2 (installation" in out


def test_it_checks_several_checkpoint_files(operator, root, tmp_path):
    _entries(operator, root, 2)
    first = _save(tmp_path, checkpoints.for_chain(operator.pk), "a.json")
    _entries(operator, root, 2)
    second = _save(tmp_path, checkpoints.for_chain(operator.pk), "b.json")
    _truncate(operator.pk, keep=3)
    err = _verify_fails("--checkpoint", first, second)
    assert "a.json" not in err
    assert "b.json#1" in err


def test_it_refuses_a_file_without_a_checkpoint(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("nothing here\n")
    assert "no checkpoint in the file" in _verify_fails("--checkpoint", str(path))


def test_it_accepts_a_checkpoint_whose_entry_was_pruned_by_a_recorded_prune(
    operator, root, tmp_path
):
    for entry in _entries(operator, root, 4):
        age(entry, 400)
    reseal(operator.pk)
    path = _save(tmp_path, checkpoints.for_chain(operator.pk))  # at seq 4
    _entries(operator, root, 1)
    assert audit.prune_chain(operator.pk, timezone.now() - timedelta(days=365)) == 4
    out, _ = _verify("--checkpoint", path)
    assert "removed by a recorded prune through seq 4" in out


def test_it_refuses_a_pruned_checkpoint_whose_anchor_differs(operator, root, tmp_path):
    entries = _entries(operator, root, 2)
    checkpoint = checkpoints.for_chain(operator.pk)
    for entry in entries:
        age(entry, 400)
    reseal(operator.pk)  # the entry at seq 2 gets another hash than the checkpoint holds
    _entries(operator, root, 1)
    audit.prune_chain(operator.pk, timezone.now() - timedelta(days=365))
    err = _verify_fails("--checkpoint", _save(tmp_path, checkpoint))
    assert "the prune anchor at this seq has another hash" in err


# Where auditors get them -------------------------------------------------------------

API_URL = "/v1/audit_logs/checkpoint"


def test_it_serves_a_checkpoint_of_the_callers_chain_from_the_api(root_api, operator, outsider):
    audit.record(None, "User:createUser", operator=outsider.operator, principal=outsider)
    response = Client().get(API_URL, **root_api)
    assert response.status_code == 200
    checkpoint = response.json()
    checkpoints.verify_signature(checkpoint)
    head = AuditChainHead.objects.get(pk=operator.pk)
    assert checkpoint["chains"] == [
        {"chain": operator.pk, "seq": head.seq, "headHash": head.last_hash}
    ]


def test_it_refuses_the_api_checkpoint_to_a_sam_user_without_permission(alice_api, operator):
    response = Client().get(API_URL, **alice_api)
    assert response.status_code == 403
    assert AuditEntry.objects.filter(
        chain=operator.pk, action=checkpoints.API, outcome="denied"
    ).exists()


def test_it_gives_the_auditor_role_the_checkpoint(root, alice, operator):
    role = roles.create_role(None, root, "auditor", reports.auditor_permission_json())
    roles.attach_role(None, root, alice, role)
    data = api_login(
        Client(), operatorId=operator.pk, userName="alice", password="sam-Password-5678"
    )
    headers = {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}
    assert Client().get(API_URL, **headers).status_code == 200


def test_it_downloads_a_checkpoint_from_the_audit_tab(root_client, operator):
    response = root_client.get("/security/audit/checkpoint.json")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    checkpoint = json.loads(response.content)
    checkpoints.verify_signature(checkpoint)
    assert checkpoint["chains"][0]["chain"] == operator.pk


def test_it_offers_the_download_on_the_audit_tab(root_client):
    assert b'id="audit-checkpoint"' in root_client.get("/security/audit/").content


def test_it_refuses_the_tab_download_without_permission(alice_client, root, alice):
    role = roles.create_role(
        None,
        root,
        "reader",
        json.dumps({"statements": [{"effect": "allow", "api": "AuditLog:getApiAuditLogs"}]}),
    )
    roles.attach_role(None, root, alice, role)
    page = alice_client.get("/security/audit/")
    assert page.status_code == 200
    assert b'id="audit-checkpoint"' not in page.content
    assert alice_client.get("/security/audit/checkpoint.json").status_code == 403


def test_it_never_changes_the_chain_when_handing_out_a_checkpoint(root_client, operator):
    before = AuditEntry.objects.filter(chain=operator.pk).count()
    root_client.get("/security/audit/checkpoint.json")
    assert AuditEntry.objects.filter(chain=operator.pk).count() == before


# The pruned and headless paths, finding by finding (make mutate) -----------------------


def _pruned_checkpoint(operator, root, before_prune=None) -> dict:
    """A checkpoint at seq 4 whose four entries a recorded prune then removed."""
    for entry in _entries(operator, root, 4):
        age(entry, 400)
    reseal(operator.pk)
    checkpoint = checkpoints.for_chain(operator.pk)
    (later,) = _entries(operator, root, 1)
    if before_prune:
        before_prune(later)  # raw SQL: on PostgreSQL the prune's role stays till the end
    assert audit.prune_chain(operator.pk, timezone.now() - timedelta(days=365)) == 4
    return checkpoint


def test_it_finds_a_pruned_position_covered_by_the_prune(operator, root):
    (finding,) = checkpoints.check(_pruned_checkpoint(operator, root))
    assert finding == checkpoints.Finding(
        operator.pk,
        4,
        True,
        "removed by a recorded prune through seq 4; the chain verifies from there (a "
        "checkpoint older than the retention proves no more than that)",
    )


def test_it_finds_a_pruned_position_whose_anchor_differs(operator, root):
    checkpoint = _pruned_checkpoint(operator, root)
    checkpoint["chains"][0]["headHash"] = "0" * 64
    (finding,) = checkpoints.check(checkpoint)
    assert finding == checkpoints.Finding(
        operator.pk, 4, False, "the prune anchor at this seq has another hash"
    )


def test_it_finds_a_pruned_position_in_a_chain_that_no_longer_verifies(operator, root):
    def tamper(later):
        raw("UPDATE security_auditentry SET target = 'x' WHERE id = %s", [later.pk])

    checkpoint = _pruned_checkpoint(operator, root, before_prune=tamper)
    _, broken = audit.verify_chain(operator.pk)
    assert broken is not None
    (finding,) = checkpoints.check(checkpoint)
    assert finding == checkpoints.Finding(
        operator.pk, 4, False, f"the chain no longer verifies: {broken.reason}"
    )


def test_it_finds_a_position_before_the_prune_that_the_prune_covers(operator, root):
    checkpoint = _pruned_checkpoint(operator, root)
    checkpoint["chains"][0]["seq"] = 2  # an older position, not the prune anchor
    (finding,) = checkpoints.check(checkpoint)
    assert finding.ok is True
    assert finding.message.startswith("removed by a recorded prune through seq 4;")
