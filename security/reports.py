"""Auditor reports: the credential report, and the built-in read-only auditor permission.

The credential report follows AWS IAM's: one row per principal (the root account and
every SAM user) with its password state and, for each of its (at most two) live AuthKeys,
the key's ID, when it was created, when and from where it was last used, its age in days
and whether it is stale (unused, or never used, for LATCHKEY_STALE_KEY_DAYS). The page
and the CSV are rendered from the same rows, so they cannot disagree.

One rule decides what of the root account a reader sees (docs/audit.md): root's AuthKey
details (IDs, times, source address, age, staleness) and its password change time are
what `Operator:listOperatorAuthKeys` guards, and that operation is root-only. The report
shows them to a reader exactly when the policy allows that reader that operation; for
anyone else the root row says only that root exists, since when and that it has a
password, and every withheld cell reads `withheld`. `report_for` applies the rule; the
page and the CSV are both built from its rows.
"""

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts import policy
from accounts.context import CallContext
from accounts.models import Operator, Principal
from security import authkeys
from security.auditlog import csv_cell, csv_lines
from security.models import AuthKey

REPORT_API = "Report:getCredentialReport"
ROOT_KEYS_API = "Operator:listOperatorAuthKeys"
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
KEY_FIELDS = ("id", "created", "last_used", "last_used_from", "age_days", "stale")
CSV_COLUMNS = [
    "principal",
    "kind",
    "password_set",
    "password_last_changed",
    "created",
    *[f"key_{n}_{f}" for n in range(1, MAX_KEYS + 1) for f in KEY_FIELDS],
]


def _iso(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at else ""


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
        ]


@dataclass(frozen=True)
class ReportRow:
    principal: Principal
    name: str
    kind: str
    keys: list[KeyCells] = field(default_factory=list)
    withheld: bool = False  # root's key details, for a reader not allowed ROOT_KEYS_API

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
            _iso(p.created_at),
        ]
        if self.withheld:
            values[3] = WITHHELD
            values += [WITHHELD] * (MAX_KEYS * len(KEY_FIELDS))
            return dict(zip(CSV_COLUMNS, values, strict=True))
        for n in range(MAX_KEYS):
            values += self.keys[n].cells() if n < len(self.keys) else [""] * len(KEY_FIELDS)
        return dict(zip(CSV_COLUMNS, values, strict=True))


def may_see_root_keys(request: HttpRequest, reader: Principal) -> bool:
    """Return whether the policy allows `reader` what guards root's keys (root-only)."""
    path_vars = {"operator_id": reader.operator_id or ""}
    ctx = CallContext.from_request(request, reader, ROOT_KEYS_API, path_vars)
    ctx = replace(ctx, method="GET")
    return policy.is_allowed(ctx)


def report_for(request: HttpRequest, reader: Principal) -> list[ReportRow]:
    """Return the report rows `reader` may see (the one place the root rule is applied)."""
    rows = credential_report(reader.operator)
    if may_see_root_keys(request, reader):
        return rows
    return [replace(row, keys=[], withheld=True) if row.principal.is_root else row for row in rows]


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
    rows = []
    for p in principals:
        cells = [
            KeyCells(k, (now - k.created_at).days, authkeys.is_stale(k, now))
            for k in keys.get(p.pk, [])[:MAX_KEYS]
        ]
        rows.append(ReportRow(p, "<root>" if p.is_root else p.user_name, p.kind, cells))
    return rows


def stale_days() -> int:
    return settings.LATCHKEY_STALE_KEY_DAYS


def report_csv(rows: list[ReportRow]):
    """Yield the report as CSV text (inert cells: no formulas, no control characters)."""
    return csv_lines(([csv_cell(v) for v in row.cells().values()] for row in rows), CSV_COLUMNS)
