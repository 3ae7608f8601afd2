"""What a refused or compared request may change, read from the database itself.

`raw_state` is every row of every tenant table (accounts and security), except what a
refusal itself writes (its `denied` audit entry and the chain head that entry moves) and
sign-in bookkeeping (`last_login`): a refused request must leave it identical. `meaning` is
the same state without what differs between two runs of the same work (random IDs, hashes,
times), so that the console's work and the API's can be compared.
"""

from django.apps import apps

from accounts.models import ApiSession, Operator, Principal, Role, RoleAttachment
from security.models import (
    AuditEntry,
    AuthKey,
    BackupCode,
    CredentialSet,
    Group,
    GroupServiceConfig,
    TotpDevice,
)

VOLATILE = {"last_login"}
# Audit bookkeeping: the chain head, and the windows that count refusals and failed
# sign-ins (security/failures.py); a refusal is recorded, never a change of tenant data.
SKIPPED_MODELS = {"AuditChainHead", "AuditFailureWindow"}


def _models():
    for label in ("accounts", "security"):
        for model in apps.get_app_config(label).get_models():
            if model.__name__ not in SKIPPED_MODELS:
                yield model


def raw_state() -> dict[str, list]:
    """Return every row of every tenant table (refusal bookkeeping left out)."""
    state = {}
    for model in _models():
        rows = model._default_manager.all()
        if model is AuditEntry:
            rows = rows.exclude(outcome=AuditEntry.Outcome.DENIED)
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in VOLATILE]
        state[model.__name__] = sorted(repr(r) for r in rows.values_list(*fields))
    return state


def diff(before: dict[str, list], after: dict[str, list]) -> dict[str, tuple[list, list]]:
    """Return, per table, the rows that disappeared and the rows that appeared."""
    changed = {}
    for name in before:
        gone = sorted(set(before[name]) - set(after[name]))
        new = sorted(set(after[name]) - set(before[name]))
        if gone or new:
            changed[name] = (gone[:3], new[:3])
    return changed


def _password(principal: Principal, known: tuple[str, ...]) -> str:
    if not principal.has_usable_password():
        return "none"
    for password in known:
        if principal.check_password(password):
            return password
    return "other"


def meaning(known_passwords: tuple[str, ...], audit_after: int) -> dict[str, object]:
    """Return the state as what it means: names, documents, counts, which password."""
    return {
        "operators": sorted(
            (o.pk, o.default_permissions, o.support_access_until is not None)
            for o in Operator.objects.all()
        ),
        "principals": sorted(
            (
                p.operator_id or "",
                p.kind,
                p.user_name,
                p.email,
                p.description,
                p.inline_permission,
                _password(p, known_passwords),
                p.trust_policy,
            )
            for p in Principal.objects.all()
        ),
        "roles": sorted(
            (r.operator_id, r.role_id, r.description, r.permission) for r in Role.objects.all()
        ),
        "attachments": sorted(
            (a.role.role_id, a.principal.user_name) for a in RoleAttachment.objects.all()
        ),
        "authkeys": sorted(
            (
                k.principal_id or 0,
                k.holder,
                k.slot is not None,
                k.revoke_reason,
                k.deactivated_at is not None,
                k.expires_at is not None,
                k.revoke_at is not None,
                bool(k.rolled_to),
            )
            for k in AuthKey.objects.all()
        ),
        "sessions": sorted(
            (s.principal_id, s.revoked_at is not None, s.opened_by, s.source_principal_id or 0)
            for s in ApiSession.objects.all()
        ),
        "credentials": sorted(
            (c.operator_id, c.credentials_id, c.type, c.description)
            for c in CredentialSet.objects.all()
        ),
        "groups": sorted((g.operator_id, g.name) for g in Group.objects.all()),
        "mfa": sorted((d.principal_id, d.status) for d in TotpDevice.objects.all()),
        "backup_codes": sorted(
            (b.principal_id, b.used_at is not None) for b in BackupCode.objects.all()
        ),
        "mfa_required": sorted(o.pk for o in Operator.objects.filter(require_sam_console_mfa=True)),
        "services": sorted(
            (s.group.name, s.service, s.destination_url, getattr(s.credential_set, "pk", None))
            for s in GroupServiceConfig.objects.all()
        ),
        "audit": [
            (e.action, e.outcome, e.target, e.actor)
            for e in AuditEntry.objects.filter(pk__gt=audit_after).order_by("pk")
        ],
    }
