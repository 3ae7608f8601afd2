"""Audit entries of failed sign-ins and token exchanges: the evidence kept, the volume bounded.

Anyone can fail to sign in, so without a bound anyone could write to a tenant's audit
chain: every failed or throttled `/v1/auth` or console sign-in naming an operator lands in
that operator's chain, with a user name and user agent of the caller's choosing. So:

- an attempt that reached a credential check is recorded on its own; the sign-in
  throttles already bound how many of those one source can make (README: throttling);
- an attempt that did not (refused by a full throttle bucket, or malformed: an AuthKey
  secret whose checksum is wrong, refused before any look-up) is aggregated per chain,
  action, refusing bucket (for a malformed one, its source address) and throttle window:
  the first is recorded in full, the others only counted (AuditFailureWindow). Once the
  window is over, the next failure recorded in that chain, or `manage.py
  audit_checkpoint`, writes one summary entry with the count (`throttledSummary`);
- the caller's free text is capped: a user name at 100 characters (no longer name can
  exist), a user agent at 200, and a cut value is marked `truncated`.

From one source address and one chain, a throttle window therefore holds at most
LATCHKEY_THROTTLE_PER_IP entries of checked attempts, one per refusing bucket of throttled
ones, one of malformed ones, and their summaries, however many requests arrive.
"""

import hashlib

from django.db import IntegrityError, models, transaction
from django.http import HttpRequest

from accounts import throttle
from accounts.models import Principal
from accounts.signin import SignInResult, operator_of_account
from console import secretscan
from console.net import client_ip, throttle_source
from security import audit
from security.models import AuditEntry, AuditFailureWindow

MAX_TARGET = 100
MAX_USER_AGENT = 200
MALFORMED = "malformed"
DENIED = "denied"


def _cap(value: str, limit: int) -> tuple[str, bool]:
    # Redact before cutting: a secret cut in half is no longer recognisable, and half a
    # secret must not be stored either.
    value = secretscan.redact(value)
    return (value[: limit - 1] + "…", True) if len(value) > limit else (value, False)


def record_failure(
    request: HttpRequest,
    action: str,
    *,
    operator: str | None,
    target: str = "",
    auth_key_id: str = "",
    throttled_by: str = "",
    malformed: bool = False,
    extra: dict | None = None,
) -> AuditEntry | None:
    """Record a failed sign-in or exchange, or only count it (see above); return the entry."""
    chain = operator or audit.INSTALLATION_CHAIN
    target, cut_target = _cap(str(target), MAX_TARGET)
    agent, cut_agent = _cap(request.META.get("HTTP_USER_AGENT", ""), MAX_USER_AGENT)
    details: dict = {**(extra or {}), "throttled": bool(throttled_by)}
    if cut_target or cut_agent:
        details["truncated"] = True
    source = throttle_source(client_ip(request))
    group = throttled_by or (f"{MALFORMED}|{source}" if malformed else "")
    with transaction.atomic():
        window = None
        if group:
            window = _count(chain, action, group)
            if window is None:
                return None  # counted; the summary at the end of the window says how often
            details["aggregated"] = {
                "bucket": window.bucket_kind,
                "windowEnds": window.window_end.isoformat(timespec="seconds"),
            }
        flush(chain)
        entry = audit.record(
            request,
            action,
            operator=operator,
            outcome=AuditEntry.Outcome.FAILED,
            target=target,
            auth_key_id=auth_key_id,
            details=details,
            user_agent=agent,
        )
        if window is not None:
            AuditFailureWindow.objects.filter(pk=window.pk).update(first_entry=entry.pk)
    return entry


def record_refusal(
    request: HttpRequest,
    action: str,
    *,
    principal: Principal,
    auth_key_id: str = "",
    target: str = "",
    details: dict | None = None,
) -> AuditEntry | None:
    """Record a call the permission engine refused, or only count it; return the entry.

    A signed-in principal (or a leaked low-privilege key) can repeat a refused call at
    request rate. The first refusal of an action by one principal and key in a throttle
    window is recorded in full, the others counted, and the window's summary entry says
    how many there were (`refusedSummary`): the evidence stays, the volume is bounded by
    the number of operations, not of requests.
    """
    chain = principal.operator_id or audit.INSTALLATION_CHAIN
    group = f"{DENIED}|{principal.pk}|{auth_key_id}"
    with transaction.atomic():
        window = _count(chain, action, group)
        if window is None:
            return None
        flush(chain)
        entry = audit.record(
            request,
            action,
            operator=principal.operator_id,
            principal=principal,
            auth_key_id=auth_key_id,
            outcome=AuditEntry.Outcome.DENIED,
            target=target,
            details={
                **(details or {}),
                "aggregated": {"windowEnds": window.window_end.isoformat(timespec="seconds")},
            },
        )
        AuditFailureWindow.objects.filter(pk=window.pk).update(first_entry=entry.pk)
    return entry


def record_sign_in_failure(
    request: HttpRequest,
    action: str,
    result: SignInResult,
    *,
    email: str | None = None,
    operator_id: str = "",
    user_name: str = "",
) -> None:
    """Record a failed password sign-in in the attacked operator's chain, or only count it.

    Bounded in volume like every failure here: throttled attempts are counted per bucket and
    window, not recorded one by one, and the caller's user name and user agent are capped.
    A right password with a missing or wrong second factor says so (`secondFactor`).
    """
    record_failure(
        request,
        action,
        operator=operator_of_account(email=email, operator_id=operator_id),
        target="root" if email is not None else user_name,
        throttled_by=result.throttled_by,
        extra={"secondFactor": "failed"} if result.second_factor_failed else None,
    )


def _count(chain: str, action: str, group: str) -> AuditFailureWindow | None:
    """Count one attempt in its window; return the window if this attempt opened it."""
    start, end = throttle.window_bounds()
    # Hashed: a bucket key may hold an e-mail address or a source address.
    key = hashlib.sha256(f"{chain}|{action}|{group}|{start.isoformat()}".encode()).hexdigest()
    windows = AuditFailureWindow.objects.filter(key=key)
    if windows.update(attempts=models.F("attempts") + 1):
        return None
    try:
        with transaction.atomic():
            return AuditFailureWindow.objects.create(
                key=key,
                chain=chain,
                action=action,
                bucket_kind=group.split("|", 1)[0][:20],
                window_start=start,
                window_end=end,
            )
    except IntegrityError:  # another request opened the window first: count this one there
        windows.update(attempts=models.F("attempts") + 1)
        return None


def _seq_of(chain: str, entry_id: int) -> int:
    """Return the place in its chain of the entry a window recorded in full (0 if gone)."""
    entries = AuditEntry.objects.filter(pk=entry_id, chain=chain)
    seq = entries.values_list("seq", flat=True).first()
    if seq is None and entries.exists():  # not sealed yet (PostgreSQL): seal it now
        audit.seal(chain)
        seq = entries.values_list("seq", flat=True).first()
    return seq or 0


def flush(chain: str | None = None) -> int:
    """Record the count of every ended window (of one chain, or of all); return how many."""
    current_start, _ = throttle.window_bounds()
    summaries = 0
    with transaction.atomic():
        ended = AuditFailureWindow.objects.filter(window_end__lte=current_start)
        if chain is not None:
            ended = ended.filter(chain=chain)
        # skip_locked: two flushers never write the same summary twice.
        rows = list(ended.select_for_update(skip_locked=True).order_by("window_end", "id")[:500])
        for window in rows:
            if window.attempts > 1:
                summaries += 1
                refused = window.bucket_kind == DENIED
                audit.record(
                    None,
                    window.action,
                    operator=window.chain or None,
                    outcome=AuditEntry.Outcome.DENIED if refused else AuditEntry.Outcome.FAILED,
                    details={
                        ("refusedSummary" if refused else "throttledSummary"): {
                            "attempts": window.attempts,
                            "recordedInFull": 1,
                            "firstSeq": _seq_of(window.chain, window.first_entry),
                            "bucket": window.bucket_kind,
                            "windowStart": window.window_start.isoformat(timespec="seconds"),
                            "windowEnd": window.window_end.isoformat(timespec="seconds"),
                        }
                    },
                )
        AuditFailureWindow.objects.filter(pk__in=[w.pk for w in rows]).delete()
    return summaries
