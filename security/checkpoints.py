"""Signed audit checkpoints: a witness, held outside the database, of where each chain was.

A hash chain proves that nothing inside it changed, never that nothing was cut from its
end: delete the newest entries, rewind the chain head, and what is left is a valid chain.
So, as AWS CloudTrail hands out signed digest files and Certificate Transparency logs sign
their tree heads, Latchkey signs checkpoints: for one chain (an operator's, from the Audit
log tab or `GET /v1/audit_logs/checkpoint`) or for every chain of the installation
(`manage.py audit_checkpoint`, whose list of chains also witnesses that none was dropped
whole), each naming the chain, the sequence number and hash of its newest entry, and the
time. Every checkpoint issued is also written to the application log, which usually ships
elsewhere. `manage.py verify_audit --checkpoint FILE` then proves that the log still
extends each checkpoint: the chain exists, its entry at that seq still has that hash, and
the chain verifies from there to its head.

Signature: Ed25519 (security/auditkeys.py: derived from the pepper, never stored) over
the checkpoint's JSON without its "signature" member, keys sorted, no whitespace, ASCII
only, so that an auditor can check it with any Ed25519 library and the public key.

A checkpoint reads the chain heads without locking them (each head row is committed with
the entry it names), so issuing one never holds up a writer; sealing in batches later
would produce the same (chain, seq, hash) positions.
"""

import hmac
import json
import logging
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.utils import timezone

from security import audit, auditkeys
from security.models import AuditChainHead, AuditEntry

FORMAT = "latchkey-audit-checkpoint/1"
API = "AuditLog:getAuditCheckpoint"
SCOPE_CHAIN = "chain"
SCOPE_INSTALLATION = "installation"
_FIELDS = {"format", "issuer", "scope", "issuedAt", "chains", "keyId", "publicKey", "signature"}

log = logging.getLogger("latchkey.audit.checkpoint")


class CheckpointError(ValueError):
    """A checkpoint is malformed, or its signature does not verify."""


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def signed_bytes(checkpoint: dict) -> bytes:
    """Return the bytes a checkpoint's signature covers."""
    return _canonical({k: v for k, v in checkpoint.items() if k != "signature"})


def _position(head: AuditChainHead) -> dict:
    return {"chain": head.chain, "seq": head.seq, "headHash": head.last_hash}


def _issue(scope: str, positions: list[dict]) -> dict:
    key = auditkeys.checkpoint_key(settings.LATCHKEY_PEPPER)
    checkpoint = {
        "format": FORMAT,
        "issuer": settings.LATCHKEY_ISSUER,
        "scope": scope,
        "issuedAt": timezone.now().isoformat(timespec="microseconds"),
        "chains": positions,
        "keyId": key.key_id,
        "publicKey": key.public_b64,
    }
    checkpoint["signature"] = auditkeys.b64url(key.private.sign(signed_bytes(checkpoint)))
    # The application log is the second place a checkpoint lands: one line, the whole JSON.
    log.info("audit checkpoint %s", _canonical(checkpoint).decode())
    return checkpoint


def for_chain(chain: str) -> dict:
    """Return a signed checkpoint of one chain where it is now (seq 0 if it has no entry)."""
    audit.seal(chain, durable=True)  # what is committed is sealed, and on disk
    head = AuditChainHead.objects.filter(pk=chain).first()
    position = _position(head) if head else {"chain": chain, "seq": 0, "headHash": ""}
    return _issue(SCOPE_CHAIN, [position])


def for_installation() -> dict:
    """Return a signed checkpoint of every chain of the installation (read in one query)."""
    audit.seal_all()
    heads = AuditChainHead.objects.order_by("chain")
    return _issue(SCOPE_INSTALLATION, [_position(h) for h in heads])


def public_keys() -> list[auditkeys.CheckpointKey]:
    """Return the checkpoint keys of the configured peppers, the signing one first."""
    return [auditkeys.checkpoint_key(p) for p in audit.peppers()]


# Reading and checking ---------------------------------------------------------------


def load(text: str) -> list[dict]:
    """Return the checkpoints in a file: one JSON object, a JSON list, or log lines."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return [c for c in data if isinstance(c, dict)]
    found = []
    for line in text.splitlines():  # application log lines: "... audit checkpoint {...}"
        start = line.find("{")
        if start < 0:
            continue
        try:
            item = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("format") == FORMAT:
            found.append(item)
    return found


def _validate(checkpoint: dict) -> list[dict]:
    if checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"not a Latchkey audit checkpoint (format is not {FORMAT})")
    if not _FIELDS <= set(checkpoint):
        raise CheckpointError(f"missing {', '.join(sorted(_FIELDS - set(checkpoint)))}")
    positions = checkpoint["chains"]
    if not isinstance(positions, list):
        raise CheckpointError("chains is not a list")
    for p in positions:
        if not (
            isinstance(p, dict)
            and isinstance(p.get("chain"), str)
            and isinstance(p.get("seq"), int)
            and not isinstance(p.get("seq"), bool)
            and p["seq"] >= 0
            and isinstance(p.get("headHash"), str)
        ):
            raise CheckpointError("a chain position is malformed")
    return positions


def verify_signature(checkpoint: dict, pinned: list[Ed25519PublicKey] | None = None) -> None:
    """Raise CheckpointError unless the checkpoint is well-formed and signed by a known key.

    The known keys are the pinned ones if given (an auditor's own copy of the public key),
    else those of the configured peppers; never the public key the checkpoint carries.
    """
    _validate(checkpoint)
    try:
        signature = auditkeys.b64url_decode(str(checkpoint["signature"]))
    except ValueError:
        raise CheckpointError("the signature is not base64url") from None
    if pinned:
        candidates = pinned
    else:
        by_id = {k.key_id: k.public for k in public_keys()}
        if checkpoint["keyId"] not in by_id:
            raise CheckpointError(
                f"it is signed by key {checkpoint['keyId']!r}, which no configured pepper "
                "derives (list the old pepper in LATCHKEY_PEPPER_FALLBACKS or pass its "
                "public key with --public-key)"
            )
        candidates = [by_id[checkpoint["keyId"]]]
    message = signed_bytes(checkpoint)
    for public in candidates:
        try:
            public.verify(signature, message)
        except InvalidSignature:
            continue
        return
    raise CheckpointError("its signature does not verify: it was altered or signed elsewhere")


@dataclass(frozen=True)
class Finding:
    """What verification found for one chain position of a checkpoint."""

    chain: str
    seq: int
    ok: bool
    message: str

    def __str__(self) -> str:
        return f"chain {self.chain or '(installation)'} at seq {self.seq}: {self.message}"


def check(checkpoint: dict, verified: dict[str, tuple] | None = None) -> list[Finding]:
    """Return, for each chain the checkpoint names, whether the log still extends it.

    Call verify_signature first. `verified` caches verify_chain results across calls.
    """
    verified = {} if verified is None else verified
    return [_check_position(p, verified) for p in _validate(checkpoint)]


def _check_position(position: dict, verified: dict[str, tuple]) -> Finding:
    chain, seq, want = position["chain"], position["seq"], position["headHash"]

    def finding(ok: bool, message: str) -> Finding:
        return Finding(chain, seq, ok, message)

    if seq == 0:
        return finding(True, "the chain was empty at the checkpoint")
    head = AuditChainHead.objects.filter(pk=chain).first()
    entries = AuditEntry.objects.filter(chain=chain)
    if head is None and not entries.exists():
        return finding(False, "the chain no longer exists: its head and every entry are gone")
    if chain not in verified:
        verified[chain] = audit.verify_chain(chain)
    _, broken = verified[chain]
    entry = entries.filter(seq=seq).first()
    pruned_through = head.pruned_through_seq if head else 0
    if entry is None and seq <= pruned_through:
        if seq == pruned_through and not hmac.compare_digest(head.pruned_through_hash, want):
            return finding(False, "the prune anchor at this seq has another hash")
        if broken is not None:
            return finding(False, f"the chain no longer verifies: {broken.reason}")
        return finding(
            True,
            f"removed by a recorded prune through seq {pruned_through}; the chain verifies "
            "from there (a checkpoint older than the retention proves no more than that)",
        )
    if entry is None:
        sealed = entries.filter(seq__isnull=False)
        last = sealed.order_by("-seq").values_list("seq", flat=True).first() or 0
        return finding(
            False,
            f"its entry is missing and the chain now ends at seq {last}: entries were "
            "removed after the checkpoint (the end of the chain was cut)",
        )
    if not hmac.compare_digest(entry.entry_hash, want):
        return finding(
            False,
            "its entry no longer has the checkpoint's hash: the chain was rewritten after "
            "the checkpoint",
        )
    if broken is not None:
        return finding(False, f"the chain no longer verifies: {broken}")
    now_at = head.seq if head else seq
    return finding(True, f"the log extends the checkpoint (the chain is now at seq {now_at})")
