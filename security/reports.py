"""Auditor reports: the credential report, and the built-in read-only auditor permission.

The credential report follows AWS IAM's: one row per principal (the root account and
every SAM user) with its password state and, for each of its (at most two) live AuthKeys,
the key's ID, when it was created, when and from where it was last used, its age in days
and whether it is stale (unused, or never used, for LATCHKEY_STALE_KEY_DAYS). The page
and the CSV are rendered from the same rows, so they cannot disagree.

One rule decides what of each principal a reader sees (docs/audit.md): a principal's
AuthKey details (IDs, times, source address, age, staleness) and its password change time
are shown exactly when the policy allows the reader the API operation that lists that
principal's keys: `Operator:listOperatorAuthKeys` for root (root-only, so only root sees
them), `User:listUserAuthKeys` with the user's name for a SAM user. Otherwise the row says
only that the principal exists, since when and whether it has a password, and every
withheld cell reads `withheld`. `report_for` applies the rule; the page and the CSV are
both built from its rows.
"""

import json
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts import policy
from accounts.context import CallContext
from accounts.models import Operator, Principal
from security import authkeys, mfa
from security.auditlog import csv_cell, csv_lines, iso_utc
from security.models import AuthKey

REPORT_API = "Report:getCredentialReport"
ROOT_KEYS_API = "Operator:listOperatorAuthKeys"
USER_KEYS_API = "User:listUserAuthKeys"
WITHHELD = "withheld"

# The built-in read-only auditor: everything an auditor reads, nothing that changes
# anything. Offered as a ready role template (docs/audit.md): create a role with this
# document and attach it to the auditor's SAM user. Reads only, by name: no wildcard
# that a future write operation could fall into.
AUDITOR_PERMISSION: dict = {
    "statements": [
        {
            "effect": "allow",
            "api": [
                "AuditLog:getApiAuditLogs",
                "AuditLog:getAuditCheckpoint",
                REPORT_API,
                "User:listUsers",
                "User:getUser",
                "User:hasUserPassword",
                "User:listUserAuthKeys",
                "User:getUserAuthKey",
                "User:getUserPermission",
                "User:getDefaultPermissions",
                "User:getEffectivePermission",
                "Role:listRoles",
                "Role:getRole",
                "Role:listRoleAttachedUsers",
                "Role:listRoleVersions",
                "Role:listUserRoles",
                "Credential:listCredentials",
            ],
        }
    ]
}
AUDITOR_ROLE_ID = "auditor"
AUDITOR_ROLE_DESCRIPTION = "Read-only auditor: audit log, users, AuthKeys, roles, reports."


def auditor_permission_json() -> str:
    """Return the auditor document as the JSON string that roles and the API carry."""
    return json.dumps(AUDITOR_PERMISSION, separators=(",", ":"))


MAX_KEYS = authkeys.MAX_LIVE_KEYS
KEY_FIELDS = (
    "id",
    "created",
    "last_used",
    "last_used_from",
    "age_days",
    "stale",
    "status",  # active or inactive (deactivated)
    "expires",  # the expiry, or a roll's scheduled revocation if earlier; empty for never
)
CSV_COLUMNS = [
    "principal",
    "kind",
    "password_set",
    "password_last_changed",
    "mfa_active",
    "created",
    *[f"key_{n}_{f}" for n in range(1, MAX_KEYS + 1) for f in KEY_FIELDS],
]


# The audit export's time format: every CSV of the console writes times one way.
_iso = iso_utc


@dataclass(frozen=True)
class KeyCells:
    key: AuthKey
    age_days: int
    stale: bool

    def cells(self) -> list[str]:
        k = self.key
        return [
            k.key_id,
            _iso(k.created_at),
            _iso(k.last_used_at),
            k.last_used_ip,
            str(self.age_days),
            "true" if self.stale else "false",
            "inactive" if k.deactivated_at is not None else "active",
            _iso(k.deadline),
        ]

    @property
    def expiring_soon(self) -> bool:
        return authkeys.expires_soon(self.key)


@dataclass(frozen=True)
class ReportRow:
    principal: Principal
    name: str
    kind: str
    keys: list[KeyCells] = field(default_factory=list)
    withheld: str = ""  # the operation guarding the key details, when the reader lacks it
    mfa_active: bool = False  # TOTP MFA active (AWS's credential report column)

    @property
    def has_stale_key(self) -> bool:
        return any(k.stale for k in self.keys)

    def cells(self) -> dict[str, str]:
        """Return the row as the report's columns (the page and the CSV both use these)."""
        p = self.principal
        values = [
            self.name,
            self.kind,
            "true" if p.has_password else "false",
            _iso(p.password_changed_at) if p.has_password else "",
            "true" if self.mfa_active else "false",
            _iso(p.created_at),
        ]
        if self.withheld:
            values[3] = WITHHELD
            values += [WITHHELD] * (MAX_KEYS * len(KEY_FIELDS))
            return dict(zip(CSV_COLUMNS, values, strict=True))
        for n in range(MAX_KEYS):
            values += self.keys[n].cells() if n < len(self.keys) else [""] * len(KEY_FIELDS)
        return dict(zip(CSV_COLUMNS, values, strict=True))


def keys_api(principal: Principal) -> tuple[str, dict[str, str]]:
    """Return the API operation (and path variables) that lists the principal's AuthKeys."""
    if principal.is_root:
        return ROOT_KEYS_API, {}
    return USER_KEYS_API, {"user_name": principal.user_name}


def may_see_keys(request: HttpRequest, reader: Principal, holder: Principal) -> bool:
    """Return whether the policy lets `reader` list `holder`'s AuthKeys through the API."""
    api, path_vars = keys_api(holder)
    path_vars = {"operator_id": reader.operator_id or "", **path_vars}
    ctx = replace(CallContext.from_request(request, reader, api, path_vars), method="GET")
    return policy.is_allowed(ctx)


def report_for(request: HttpRequest, reader: Principal) -> list[ReportRow]:
    """Return the report rows `reader` may see (the one place the rule is applied)."""
    return [
        row
        if may_see_keys(request, reader, row.principal)
        else replace(row, keys=[], withheld=keys_api(row.principal)[0])
        for row in credential_report(reader.operator)
    ]


def credential_report(operator: Operator, now: datetime | None = None) -> list[ReportRow]:
    """Return one row per principal of the operator, unfiltered (callers use report_for)."""
    now = now or timezone.now()
    principals = list(
        Principal.objects.filter(
            operator=operator, kind__in=[Principal.Kind.ROOT, Principal.Kind.SAM]
        ).order_by("kind", "user_name")
    )
    principals.sort(key=lambda p: (not p.is_root, p.user_name))
    keys: dict[int, list[AuthKey]] = {}
    live = AuthKey.objects.filter(operator=operator, slot__isnull=False).order_by("created_at")
    for key in live:
        keys.setdefault(key.principal_id, []).append(key)
    with_mfa = mfa.active_ids(p.pk for p in principals)
    rows = []
    for p in principals:
        cells = [
            KeyCells(k, (now - k.created_at).days, authkeys.is_stale(k, now))
            for k in keys.get(p.pk, [])[:MAX_KEYS]
        ]
        name = "<root>" if p.is_root else p.user_name
        rows.append(ReportRow(p, name, p.kind, cells, mfa_active=p.pk in with_mfa))
    return rows


def stale_days() -> int:
    return settings.LATCHKEY_STALE_KEY_DAYS


def report_csv(rows: list[ReportRow]):
    """Yield the report as CSV text (inert cells: no formulas, no control characters)."""
    return csv_lines(([csv_cell(v) for v in row.cells().values()] for row in rows), CSV_COLUMNS)
