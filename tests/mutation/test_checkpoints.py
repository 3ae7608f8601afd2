"""Signed audit checkpoints (security/checkpoints.py) at their edges: the malformed
checkpoints verification must refuse, the findings' exact messages, reading checkpoints
out of files, what `make mutate` found that tests/security/test_audit_checkpoints.py (the
flows through the commands) leaves open."""

import json
import logging

import pytest
from django.db import connection

from security import audit, checkpoints
from security.models import AuditChainHead
from tests.security.auditsupport import raw

pytestmark = pytest.mark.django_db


def _entries(operator, root, n: int) -> list:
    return [
        audit.record(None, "User:updateUser", operator=operator, principal=root, target=f"u{i}")
        for i in range(n)
    ]


def _refusal(checkpoint: dict) -> str:
    with pytest.raises(checkpoints.CheckpointError) as refused:
        checkpoints.verify_signature(checkpoint)
    return str(refused.value)


@pytest.fixture
def signed(operator, root) -> dict:
    _entries(operator, root, 2)
    return checkpoints.for_chain(operator.pk)


# Issuing -----------------------------------------------------------------------------


def test_a_checkpoint_carries_exactly_the_documented_fields(signed, settings):
    assert set(signed) == checkpoints._FIELDS
    assert signed["issuer"] == settings.LATCHKEY_ISSUER
    assert signed["format"] == "latchkey-audit-checkpoint/1"
    key = checkpoints.public_keys()[0]
    assert (signed["keyId"], signed["publicKey"]) == (key.key_id, key.public_b64)


def test_the_issue_time_has_microseconds(signed):
    _date, time = signed["issuedAt"].split("T")
    assert len(time.split("+")[0]) == len("12:00:00.000000")


def test_the_signed_bytes_are_sorted_compact_ascii_without_the_signature():
    checkpoint = {"b": "é", "a": [1, 2], "signature": "x"}
    assert checkpoints.signed_bytes(checkpoint) == b'{"a":[1,2],"b":"\\u00e9"}'


def test_a_chain_with_no_entry_is_at_seq_0(operator):
    checkpoint = checkpoints.for_chain(operator.pk)
    assert checkpoint["chains"] == [{"chain": operator.pk, "seq": 0, "headHash": ""}]
    checkpoints.verify_signature(checkpoint)
    (finding,) = checkpoints.check(checkpoint)
    assert (finding.ok, finding.message) == (True, "the chain was empty at the checkpoint")


def test_an_installation_checkpoint_lists_chains_in_order(operator, root, outsider):
    audit.record(None, "User:createUser", operator=outsider.operator, principal=outsider)
    _entries(operator, root, 1)
    chains = [p["chain"] for p in checkpoints.for_installation()["chains"]]
    assert chains == sorted(chains)
    assert len(chains) == 2


def test_the_signing_key_is_listed_first(settings):
    signing = checkpoints.public_keys()[0]
    settings.LATCHKEY_PEPPER_FALLBACKS = ["F" * 20 + "old-pepper-0123456789abcd"]
    keys = checkpoints.public_keys()
    assert len(keys) == 2
    assert keys[0].key_id == signing.key_id


# Reading -----------------------------------------------------------------------------


def test_load_reads_one_object(signed):
    assert checkpoints.load(json.dumps(signed)) == [signed]


def test_load_reads_the_objects_of_a_list(signed):
    assert checkpoints.load(json.dumps([signed, 5, "x", signed])) == [signed, signed]


def test_load_reads_only_checkpoints_from_log_lines(signed):
    lines = [
        "no brace here",
        "INFO audit checkpoint " + json.dumps(signed),
        "INFO other {not json}",
        'INFO other {"format": "something else"}',
        "INFO list [" + json.dumps(signed) + "]",
        "INFO again " + json.dumps(signed),
        json.dumps(signed),  # a line that is only the checkpoint
    ]
    assert checkpoints.load("\n".join(lines)) == [signed, signed, signed]


def test_load_finds_nothing_in_a_json_scalar():
    assert checkpoints.load("5") == []


# Malformed checkpoints ----------------------------------------------------------------


def test_it_refuses_another_format(signed):
    signed["format"] = "latchkey-audit-checkpoint/2"
    assert _refusal(signed) == (
        "not a Latchkey audit checkpoint (format is not latchkey-audit-checkpoint/1)"
    )


def test_it_names_the_missing_fields_in_order(signed):
    del signed["keyId"]
    del signed["chains"]
    assert _refusal(signed) == "missing chains, keyId"


def test_it_refuses_chains_that_are_not_a_list(signed):
    signed["chains"] = {"chain": "x"}
    assert _refusal(signed) == "chains is not a list"


@pytest.mark.parametrize(
    "position",
    [
        "not a dict",
        {"seq": 1, "headHash": ""},
        {"chain": 5, "seq": 1, "headHash": ""},
        {"chain": "c", "headHash": ""},
        {"chain": "c", "seq": "1", "headHash": ""},
        {"chain": "c", "seq": True, "headHash": ""},
        {"chain": "c", "seq": -1, "headHash": ""},
        {"chain": "c", "seq": 1},
        {"chain": "c", "seq": 1, "headHash": None},
    ],
)
def test_it_refuses_a_malformed_chain_position(signed, position):
    signed["chains"] = [signed["chains"][0], position]
    assert _refusal(signed) == "a chain position is malformed"


def test_it_accepts_a_position_at_seq_0(operator):
    checkpoint = checkpoints.for_chain(operator.pk)
    assert checkpoint["chains"][0]["seq"] == 0
    checkpoints.verify_signature(checkpoint)  # does not raise


@pytest.mark.parametrize("signature", ["not base64!", "", 5])
def test_it_refuses_a_signature_that_is_not_base64url(signed, signature):
    signed["signature"] = signature
    assert _refusal(signed) == "the signature is not base64url"


def test_it_names_the_unknown_key(signed):
    signed["keyId"] = "k-unknown"
    assert _refusal(signed) == (
        "it is signed by key 'k-unknown', which no configured pepper derives (list the old "
        "pepper in LATCHKEY_PEPPER_FALLBACKS or pass its public key with --public-key)"
    )


def test_it_refuses_an_altered_checkpoint(signed):
    signed["issuedAt"] = "2020-01-01T00:00:00.000000+00:00"
    assert _refusal(signed) == ("its signature does not verify: it was altered or signed elsewhere")


def test_a_pinned_key_is_tried_after_another_one(signed, settings):
    from security import auditkeys

    other = auditkeys.checkpoint_key("E" * 20 + "unrelated-pepper-012345678").public
    own = checkpoints.public_keys()[0].public
    checkpoints.verify_signature(signed, pinned=[other, own])  # does not raise
    with pytest.raises(checkpoints.CheckpointError):
        checkpoints.verify_signature(signed, pinned=[other])


def test_a_pinned_key_ignores_the_key_id(signed):
    own = checkpoints.public_keys()[0].public
    signed_elsewhere = dict(signed, keyId="k-unknown")
    # The key ID is covered by the signature, so changing it breaks the signature, and the
    # pinned key is what the refusal is about: not the unknown ID.
    with pytest.raises(checkpoints.CheckpointError) as refused:
        checkpoints.verify_signature(signed_elsewhere, pinned=[own])
    assert "does not verify" in str(refused.value)


# Findings ----------------------------------------------------------------------------


def test_a_finding_names_its_chain_or_the_installation():
    assert str(checkpoints.Finding("OP1", 3, True, "fine")) == "chain OP1 at seq 3: fine"
    assert str(checkpoints.Finding("", 2, False, "bad")) == "chain (installation) at seq 2: bad"


def test_it_reports_where_the_extended_chain_is_now(operator, root, signed):
    _entries(operator, root, 3)
    (finding,) = checkpoints.check(signed)
    assert finding == checkpoints.Finding(
        operator.pk, 2, True, "the log extends the checkpoint (the chain is now at seq 5)"
    )


def test_it_reports_a_dropped_chain(operator, signed):
    raw("DELETE FROM security_auditentry WHERE chain = %s", [operator.pk])
    AuditChainHead.objects.filter(pk=operator.pk).delete()
    (finding,) = checkpoints.check(signed)
    assert finding == checkpoints.Finding(
        operator.pk, 2, False, "the chain no longer exists: its head and every entry are gone"
    )


def test_it_reports_a_cut_end_with_where_the_chain_now_ends(operator, root):
    for _ in range(3):  # entries of another chain first: row IDs are not seq numbers
        audit.record(None, "Auth:auth", operator=None, outcome="failed")
    _entries(operator, root, 4)
    checkpoint = checkpoints.for_chain(operator.pk)
    raw("DELETE FROM security_auditentry WHERE chain = %s AND seq > 2", [operator.pk])
    (finding,) = checkpoints.check(checkpoint)
    assert finding == checkpoints.Finding(
        operator.pk,
        4,
        False,
        "its entry is missing and the chain now ends at seq 2: entries were removed after "
        "the checkpoint (the end of the chain was cut)",
    )


def test_it_reports_a_rewritten_entry(operator, signed):
    signed["chains"][0]["headHash"] = "0" * 64
    (finding,) = checkpoints.check(signed)
    assert finding == checkpoints.Finding(
        operator.pk,
        2,
        False,
        "its entry no longer has the checkpoint's hash: the chain was rewritten after the "
        "checkpoint",
    )


def test_it_verifies_each_chain_once_across_calls(operator, root, signed, monkeypatch):
    calls = []
    real = audit.verify_chain
    monkeypatch.setattr(audit, "verify_chain", lambda chain: calls.append(chain) or real(chain))
    verified: dict = {}
    assert checkpoints.check(signed, verified)[0].ok
    assert checkpoints.check(signed, verified)[0].ok
    assert calls == [operator.pk]
    assert set(verified) == {operator.pk}


def test_a_chain_head_without_entries_is_a_cut_end(operator, signed):
    raw("DELETE FROM security_auditentry WHERE chain = %s", [operator.pk])
    (finding,) = checkpoints.check(signed)
    assert finding == checkpoints.Finding(
        operator.pk,
        2,
        False,
        "its entry is missing and the chain now ends at seq 0: entries were removed after "
        "the checkpoint (the end of the chain was cut)",
    )


def test_entries_without_their_chain_head_are_checked_against_the_checkpoint(operator, root):
    _entries(operator, root, 1)
    checkpoint = checkpoints.for_chain(operator.pk)  # at seq 1
    _entries(operator, root, 1)
    audit.seal(operator.pk)
    AuditChainHead.objects.filter(pk=operator.pk).delete()
    raw("DELETE FROM security_auditentry WHERE chain = %s AND seq = 1", [operator.pk])
    (finding,) = checkpoints.check(checkpoint)
    assert finding == checkpoints.Finding(
        operator.pk,
        1,
        False,
        "its entry is missing and the chain now ends at seq 2: entries were removed after "
        "the checkpoint (the end of the chain was cut)",
    )


@pytest.mark.skipif(
    connection.vendor == "postgresql",
    reason="on PostgreSQL the seal before verification writes a new head at seq 0, a break",
)
def test_an_entry_without_its_chain_head_still_proves_the_checkpoint(operator, root):
    _entries(operator, root, 2)
    checkpoint = checkpoints.for_chain(operator.pk)  # at seq 2
    AuditChainHead.objects.filter(pk=operator.pk).delete()
    (finding,) = checkpoints.check(checkpoint)
    assert finding == checkpoints.Finding(
        operator.pk, 2, True, "the log extends the checkpoint (the chain is now at seq 2)"
    )


def test_a_chain_checkpoint_first_seals_that_chain_durably(operator, monkeypatch):
    # seal() works on PostgreSQL only (SQLite seals as it writes), and make mutate runs on
    # SQLite: the call itself is what can be seen there.
    seals = []
    monkeypatch.setattr(audit, "seal", lambda chain, **kw: seals.append((chain, kw)) or 0)
    checkpoints.for_chain(operator.pk)
    assert seals == [(operator.pk, {"durable": True})]


def test_an_installation_checkpoint_first_seals_every_chain(monkeypatch):
    calls = []
    monkeypatch.setattr(audit, "seal_all", lambda *a, **kw: calls.append((a, kw)) or 0)
    checkpoints.for_installation()
    assert calls == [((), {})]


def test_the_log_line_names_the_checkpoint_in_its_signed_form(operator, caplog):
    with caplog.at_level(logging.INFO, logger="latchkey.audit.checkpoint"):
        checkpoint = checkpoints.for_chain(operator.pk)
    (record,) = [r for r in caplog.records if r.name == "latchkey.audit.checkpoint"]
    assert record.levelno == logging.INFO
    compact = json.dumps(checkpoint, sort_keys=True, separators=(",", ":"))
    assert record.getMessage() == f"audit checkpoint {compact}"


def test_it_reports_a_chain_broken_after_the_checkpoint(operator, root, signed):
    (later,) = _entries(operator, root, 1)
    raw("UPDATE security_auditentry SET target = 'x' WHERE id = %s", [later.pk])
    _, broken = audit.verify_chain(operator.pk)
    (finding,) = checkpoints.check(signed)
    assert finding == checkpoints.Finding(
        operator.pk, 2, False, f"the chain no longer verifies: {broken}"
    )
