"""Each audit entry names the key that sealed it and verifies under that key only."""

from datetime import timedelta

import pytest

from accounts.models import Operator, Principal
from security import audit, auditkeys
from security.models import AuditChainHead, AuditEntry
from tests.security.auditsupport import raw

pytestmark = pytest.mark.django_db

OLD = "A" * 20 + "old-pepper-0123456789abcdef"
NEW = "B" * 20 + "new-pepper-0123456789abcdef"
OTHER = "C" * 20 + "other-pepper-0123456789abcd"


@pytest.fixture
def rotated(settings):
    """Sealed with OLD, then the pepper rotated to NEW with OLD kept as a fallback."""

    def rotate() -> None:
        settings.LATCHKEY_PEPPER = NEW
        settings.LATCHKEY_PEPPER_FALLBACKS = [OLD]

    settings.LATCHKEY_PEPPER = OLD
    settings.LATCHKEY_PEPPER_FALLBACKS = []
    return rotate


def _write(operator: Operator, root: Principal, target: str = "x") -> AuditEntry:
    return audit.record(None, "User:updateUser", operator=operator, principal=root, target=target)


def _reseal_one(entry: AuditEntry, pepper: str, **changes) -> None:
    """Re-seal one entry under `pepper` (what a holder of that pepper could do)."""
    for name, value in changes.items():
        setattr(entry, name, value)
    entry.key_fp = auditkeys.fingerprint(pepper)
    entry.entry_hash = audit.entry_digest(entry, pepper)
    raw(
        "UPDATE security_auditentry SET key_fp = %s, entry_hash = %s, at = %s, target = %s "
        "WHERE id = %s",
        [entry.key_fp, entry.entry_hash, entry.at, entry.target, entry.pk],
    )
    if not AuditEntry.objects.filter(chain=entry.chain, seq__gt=entry.seq).exists():
        AuditChainHead.objects.filter(pk=entry.chain).update(last_hash=entry.entry_hash)


def test_it_records_the_fingerprint_of_the_sealing_key(operator, root, settings):
    entry = _write(operator, root)
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.key_fp == auditkeys.fingerprint(settings.LATCHKEY_PEPPER)
    assert len(stored.key_fp) == 16


def test_it_keeps_the_fingerprint_from_revealing_the_pepper(settings):
    fingerprint = auditkeys.fingerprint(settings.LATCHKEY_PEPPER)
    assert fingerprint not in settings.LATCHKEY_PEPPER
    assert fingerprint != auditkeys.chain_key(settings.LATCHKEY_PEPPER).hex()[:16]


def test_it_verifies_entries_of_both_keys_after_a_rotation(operator, root, rotated):
    _write(operator, root)
    rotated()
    _write(operator, root)
    assert audit.verify_chain(operator.pk) == (2, None)


def test_it_refuses_an_entry_sealed_with_a_key_other_than_the_one_it_names(operator, root, rotated):
    entry = _write(operator, root)
    rotated()
    # Sealed with NEW but naming OLD: under the old rule "any listed pepper" it passed.
    entry.key_fp = auditkeys.fingerprint(OLD)
    entry.entry_hash = audit.entry_digest(entry, NEW)
    raw(
        "UPDATE security_auditentry SET key_fp = %s, entry_hash = %s WHERE id = %s",
        [entry.key_fp, entry.entry_hash, entry.pk],
    )
    _, broken = audit.verify_chain(operator.pk)
    assert broken is not None
    assert broken.entry.pk == entry.pk


def test_it_names_a_sealing_key_that_is_not_configured(operator, root, settings):
    entry = _write(operator, root)
    _reseal_one(entry, OTHER)
    _, broken = audit.verify_chain(operator.pk)
    assert auditkeys.fingerprint(OTHER) in broken.reason
    assert "neither LATCHKEY_PEPPER nor one of LATCHKEY_PEPPER_FALLBACKS" in broken.reason


def test_it_refuses_an_entry_forged_with_a_leaked_retired_pepper(operator, root, rotated):
    _write(operator, root)
    rotated()
    _write(operator, root)
    later = _write(operator, root, "real")
    # Someone holding the leaked OLD pepper rewrites the newest entry, an hour on.
    _reseal_one(later, OLD, target="forged", at=later.at + timedelta(hours=1))
    _, broken = audit.verify_chain(operator.pk)
    assert broken.entry.pk == later.pk
    assert "retired key" in broken.reason


def test_it_accepts_a_retired_key_during_a_rolling_restart(operator, root, rotated):
    _write(operator, root)
    rotated()
    _write(operator, root)
    straggler = _write(operator, root)
    # A server not yet restarted seals with OLD a few seconds after the first NEW entry.
    _reseal_one(straggler, OLD)
    assert audit.verify_chain(operator.pk) == (3, None)


def test_it_refuses_a_backdated_entry_under_a_retired_key(operator, root, rotated):
    _write(operator, root)
    rotated()
    first_new = _write(operator, root)
    newer = _write(operator, root)
    raw(
        "UPDATE security_auditentry SET at = %s WHERE id = %s",
        [first_new.at + timedelta(minutes=10), newer.pk],
    )
    newer.at = first_new.at + timedelta(minutes=10)
    _reseal_one(newer, NEW)
    last = _write(operator, root)
    # Inside the roll-out window by its own time, but minutes before the entry ahead of it.
    _reseal_one(last, OLD, at=first_new.at + timedelta(minutes=1))
    _, broken = audit.verify_chain(operator.pk)
    assert broken.entry.pk == last.pk


def test_it_refuses_an_unversioned_entry_appended_after_versioned_ones(operator, root):
    _write(operator, root)
    late = _write(operator, root)
    late.key_fp = ""
    raw(
        "UPDATE security_auditentry SET key_fp = '', at = %s WHERE id = %s",
        [late.at + timedelta(hours=1), late.pk],
    )
    late.at += timedelta(hours=1)
    late.entry_hash = audit.entry_digest(late)
    raw("UPDATE security_auditentry SET entry_hash = %s WHERE id = %s", [late.entry_hash, late.pk])
    AuditChainHead.objects.filter(pk=operator.pk).update(last_hash=late.entry_hash)
    _, broken = audit.verify_chain(operator.pk)
    assert broken.entry.pk == late.pk


def test_it_still_verifies_entries_written_before_fingerprints(operator, root):
    first = _write(operator, root)
    raw("UPDATE security_auditentry SET key_fp = '' WHERE id = %s", [first.pk])
    _write(operator, root)
    assert audit.verify_chain(operator.pk) == (2, None)
