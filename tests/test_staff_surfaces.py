"""Every admin URL and every /staff/ URL, walked from the URL configuration as each staff
role, with and without the tenant's grant (issue 17, done-when):

- without a grant, no tenant data appears: no planted canary (default permissions, user
  names, descriptions, e-mail, roles, credential sets, revocation reasons, audit entries,
  the quota), and no answer changes when the tenant's data changes (so neither a count nor
  a lookup can act as an oracle);
- an installation administrator sees no tenant data even while a grant is open;
- every response that shows tenant data was recorded in the tenant's own audit chain, with
  the staff member and the path, by that very request.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import Resolver404, resolve

from accounts.models import Operator, Principal
from security import audit, authkeys, credentials, roles, support
from security.models import AuditEntry, AuthKey
from tests.routes import all_routes
from tests.security.credential_samples import sample_fields

pytestmark = pytest.mark.django_db

CANARY = "cnry"  # every planted string holds it; nothing else in the product does
CANARY_QUOTA = "271828"
# What probes search for: a prefix of every canary (it finds them if a search reaches them),
# never the canary itself (pages echo what was asked for: a search box, a `next` link).
PROBE = CANARY[:3]
DEFAULT_PERMISSIONS = (
    '{"statements":[{"effect":"allow","api":"User:getUser",'
    "\"condition\":\"ipAddress('10.0.0.1') and samUserName == 'cnry-dp-5x9q'\"}]}"
)


@dataclass
class Tenant:
    operator: Operator
    root: Principal
    user: Principal
    live_key: AuthKey
    revoked_key: AuthKey
    spare_key: AuthKey


@pytest.fixture
def tenant(db) -> Tenant:
    operator = Operator.create()
    root = Principal.objects.create_root(operator, "cnry-root-8v2w@example.com", "x-Password-1")
    user = Principal.objects.create_sam_user(operator, "cnry-user-3k7m", "cnry-desc-6t1p")
    Operator.objects.filter(pk=operator.pk).update(
        default_permissions=DEFAULT_PERMISSIONS, credential_quota=int(CANARY_QUOTA)
    )
    roles.create_role(None, root, "cnry-role-2h8d", '{"statements":[]}', "cnry-roledesc-4f5g")
    credentials.create_credential_set(
        None, root, "cnry-cred-9j4r", "psk", "cnry-creddesc-0o9i", sample_fields("psk")
    )
    live_key, _ = authkeys.generate(None, root, user)
    revoked_key, _ = authkeys.generate(None, root, root)
    authkeys.revoke(None, root, revoked_key, reason="cnry-reason-1q2w")
    spare_key, _ = authkeys.generate(None, root, root)
    audit.record(None, "User:updateUser", operator=operator, principal=root, target="cnry-aud-7y6u")
    operator.refresh_from_db()
    return Tenant(operator, root, user, live_key, revoked_key, spare_key)


def _change_tenant_data(t: Tenant) -> None:
    """Change everything a leak could show, keeping the planted canaries (pass B)."""
    Operator.objects.filter(pk=t.operator.pk).update(
        default_permissions=DEFAULT_PERMISSIONS.replace("10.0.0.1", "10.0.0.2"),
        credential_quota=int(CANARY_QUOTA) + 1,
    )
    for n in range(3):
        credentials.create_credential_set(
            None, t.root, f"cnry-more-{n}", "psk", "", sample_fields("psk")
        )
    Principal.objects.create_sam_user(t.operator, "cnry-later-5r4e")
    audit.record(None, "User:createUser", operator=t.operator, principal=t.root, target="cnry-b")


# --- the probes, read from the URL configuration ------------------------------------------


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    data: tuple = ()

    @property
    def label(self) -> str:
        return f"{self.method} {self.path} {dict(self.data) or ''}"


def _staff_routes() -> list[str]:
    return sorted(
        {
            r.route
            for r in all_routes()
            if r.kind == "console" and r.route.startswith(("admin/", "staff/"))
        }
    )


CHANGELIST_QUERIES = [
    {"q": PROBE},
    {"q": "OP"},
    {"default_permissions__contains": "ipAddress('1"},
    {"operator__default_permissions__contains": "i"},
    {"description__contains": PROBE},
    {"operator__credential_quota__gte": "0"},
    {"o": "1"},
    {"o": "-2.3"},
    {"_to_field": "operator"},
    {"_popup": "1", "_to_field": "id"},
    {"staff_role__exact": "support"},
    {"staff_role__exact": "\x00"},  # hostile values answer 4xx, never 5xx (PostgreSQL)
    {"q": "\x00"},
]


def _object_ids(t: Tenant, staff: list[Principal]) -> list[str]:
    ids = [str(p.pk) for p in staff] + [str(t.root.pk), str(t.user.pk), t.operator.pk]
    return [*ids, str(t.live_key.pk), "999999", "%00"]


def _catch_all_paths(t: Tenant) -> list[str]:
    principal_type = ContentType.objects.get_for_model(Principal)
    key_type = ContentType.objects.get_for_model(AuthKey)
    return [
        "accounts/operator/",
        f"accounts/operator/{t.operator.pk}/change/",
        f"accounts/principal/{t.user.pk}/change/",
        f"accounts/principal/?user_name__contains={PROBE}",
        "security/",
        "security/authkey/",
        "security/auditentry/",
        "security/credentialset/",
        "auth/group/",
        f"r/{principal_type.pk}/{t.user.pk}/",
        f"r/{key_type.pk}/{t.live_key.pk}/",
        "nonexistent/",
    ]


def probes(t: Tenant, staff: list[Principal]) -> list[Probe]:
    """Return a request for every admin and staff route (parameters filled every way)."""
    out: list[Probe] = []
    for route in _staff_routes():
        if route == "admin/(?P<url>.*)$":
            out += [Probe("GET", "/admin/" + p) for p in _catch_all_paths(t)]
        elif route == "admin/^(?P<app_label>accounts)/$":
            out.append(Probe("GET", "/admin/accounts/"))
        elif "<path:object_id>" in route:
            for object_id in _object_ids(t, staff):
                path = "/" + route.replace("<path:object_id>", object_id)
                out.append(Probe("GET", path))
                tenant_object = object_id not in {str(p.pk) for p in staff}
                if tenant_object and route.endswith("change/"):
                    data = {"staff_role": "admin", "is_active": "on", "description": "pwned"}
                    out.append(Probe("POST", path, tuple(data.items())))
                if tenant_object and route.endswith("delete/"):
                    out.append(Probe("POST", path, (("post", "yes"),)))
        elif "<keyid:key_id>" in route:
            for key in (t.live_key.key_id, t.revoked_key.key_id, "keyId-" + "0" * 32):
                out.append(
                    Probe("POST", "/" + route.replace("<keyid:key_id>", key), (("reason", ""),))
                )
        elif "<opid:operator_id>" in route:
            for operator_id in (t.operator.pk, "OP0000000000", "x" * 200, "%00"):
                out.append(Probe("GET", "/" + route.replace("<opid:operator_id>", operator_id)))
        elif route in ("admin/logout/", "staff/logout/"):
            out.append(Probe("GET", "/" + route))  # POST would end the walk's session
        else:
            out.append(Probe("GET", "/" + route))
    out += [
        Probe("GET", "/admin/accounts/staffaccount/?" + urlencode(q)) for q in CHANGELIST_QUERIES
    ]
    for app_label, model_name, field_name in [
        ("accounts", "staffaccount", "operator"),
        ("accounts", "operator", "id"),
        ("security", "authkey", "principal"),
        ("accounts", "principal", "operator"),
    ]:
        query = {"app_label": app_label, "model_name": model_name, "field_name": field_name}
        out.append(Probe("GET", "/admin/autocomplete/?" + urlencode({**query, "term": PROBE})))
    for key in (t.live_key.key_id, t.revoked_key.key_id):
        out.append(Probe("POST", "/staff/authkeys/", (("key_id", key),)))
    out.append(
        Probe(
            "POST",
            "/admin/quotas/",
            (("operator_id", "OP0000000000"), ("credentials", "5"), ("reason", "r")),
        )
    )
    return out


def _visited_route(probe: Probe) -> str:
    try:
        return resolve(probe.path.split("?")[0]).route
    except Resolver404:  # a hostile value the path converters refuse: a 404, no route
        return ""


# --- running them ------------------------------------------------------------------------

_VOLATILE = [
    re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+'),
    re.compile(r'("X-CSRFToken": ")[^"]+'),
    re.compile(r'(nonce=")[^"]+'),
    re.compile(r"('nonce-)[^']+"),
]
_VOLATILE_HEADERS = {"set-cookie", "x-request-id", "expires"}


def _normalized(body: str) -> str:
    for pattern in _VOLATILE:
        body = pattern.sub(r"\1…", body)
    return body


def _answer(response) -> str:
    headers = "".join(
        f"{k}: {v}\n" for k, v in response.items() if k.lower() not in _VOLATILE_HEADERS
    )
    return f"{response.status_code}\n{headers}\n{response.content.decode(errors='replace')}"


def _leaks(answer: str) -> list[str]:
    found = re.findall(rf"{CANARY}[\w.@-]*", answer)
    return found + ([CANARY_QUOTA] if CANARY_QUOTA in answer else [])


def _tenant_entries(t: Tenant, probe: Probe, actor: Principal):
    return AuditEntry.objects.filter(
        chain=t.operator.pk,
        actor_kind="staff",
        actor=actor.handle,
        request_path=probe.path.split("?")[0],
    )


def walk(client: Client, t: Tenant, actor: Principal | None, staff: list[Principal]) -> dict:
    """Run every probe; return each one's answer and whether it showed tenant data."""
    results = {}
    for probe in probes(t, staff):
        before = _tenant_entries(t, probe, actor).count() if actor else 0
        method = client.post if probe.method == "POST" else client.get
        response = method(probe.path, dict(probe.data)) if probe.data else method(probe.path)
        answer = _answer(response)
        assert response.status_code < 500, probe.label
        leaks = _leaks(answer)
        audited = bool(actor) and _tenant_entries(t, probe, actor).count() > before
        results[probe] = (_normalized(answer), leaks, audited)
    return results


def _client_for(
    who: str, helpdesk: Principal, ops_admin: Principal
) -> tuple[Client, Principal | None]:
    client = Client()
    actor = {"support": helpdesk, "admin": ops_admin}.get(who)
    if actor is not None:
        client.force_login(actor, backend="accounts.backends.StaffBackend")
    return client, actor


WHO = ["support", "admin", "anonymous"]


@pytest.mark.parametrize("who", WHO)
def test_it_shows_no_tenant_data_anywhere_without_a_grant(who, tenant, helpdesk, ops_admin):
    client, actor = _client_for(who, helpdesk, ops_admin)
    first = walk(client, tenant, actor, [helpdesk, ops_admin])
    leaked = {p.label: leaks for p, (_, leaks, _) in first.items() if leaks}
    assert not leaked
    _change_tenant_data(tenant)
    second = walk(client, tenant, actor, [helpdesk, ops_admin])
    changed = [p.label for p in first if first[p][0] != second[p][0]]
    assert not changed, "answers that depend on tenant data (an oracle):\n" + "\n".join(changed)


@pytest.mark.parametrize("who", ["admin", "anonymous"])
def test_it_shows_no_tenant_data_to_others_than_support_during_a_grant(
    who, tenant, helpdesk, ops_admin
):
    support.grant(None, tenant.root, 4)
    client, actor = _client_for(who, helpdesk, ops_admin)
    results = walk(client, tenant, actor, [helpdesk, ops_admin])
    leaked = {p.label: leaks for p, (_, leaks, _) in results.items() if leaks}
    assert not leaked


def test_it_audits_every_view_that_shows_support_tenant_data_during_a_grant(
    tenant, helpdesk, ops_admin
):
    support.grant(None, tenant.root, 4)
    client, actor = _client_for("support", helpdesk, ops_admin)
    results = walk(client, tenant, actor, [helpdesk, ops_admin])
    showing = {p for p, (_, leaks, _) in results.items() if leaks}
    unaudited = [p.label for p in showing if not results[p][2]]
    assert not unaudited
    # The scanner sees the data it must see (a scan that finds nothing proves nothing).
    paths = {p.path.split("?")[0] for p in showing}
    assert f"/staff/operators/{tenant.operator.pk}/" in paths
    assert "/staff/authkeys/" in paths
    assert not [p.label for p in showing if p.path.startswith("/admin/")]


def test_it_walks_every_admin_and_staff_route(tenant, helpdesk, ops_admin):
    visited = {_visited_route(p) for p in probes(tenant, [helpdesk, ops_admin])}
    # resolve() joins a regex route without its "^" anchor.
    assert {r.replace("/^", "/") for r in _staff_routes()} <= visited


def test_it_changes_nothing_of_the_tenant_through_the_walk(tenant, helpdesk, ops_admin):
    client, actor = _client_for("admin", helpdesk, ops_admin)
    before = list(Principal.objects.filter(operator=tenant.operator).values())
    walk(client, tenant, actor, [helpdesk, ops_admin])
    client, actor = _client_for("support", helpdesk, ops_admin)
    walk(client, tenant, actor, [helpdesk, ops_admin])
    assert list(Principal.objects.filter(operator=tenant.operator).values()) == before
    assert AuthKey.objects.get(pk=tenant.live_key.pk).is_live  # every revoke had no reason
    assert Operator.objects.get(pk=tenant.operator.pk).credential_quota == int(CANARY_QUOTA)
