"""Every console page, for the page walks (small screens, accessibility).

The pages come from the URL configuration (tests/routes.py), so a page added later is
walked too: every console route that answers GET with a whole page, filled with real
objects; as root, as a SAM user holding a read-only role, as support staff and signed out.
"""

import json

from accounts.models import Principal
from security import authkeys, credentials, groups, reports, roles, support
from tests.conftest import SAM_PASSWORD
from tests.console.test_static_manifest import ANSWERS, SIGN_IN_PAGES
from tests.routes import all_routes

STAFF_PASSWORD = "staff-Password-4321"
READ_ONLY = {
    "statements": [
        {
            "effect": "allow",
            "api": [*reports.AUDITOR_PERMISSION["statements"][0]["api"], "Group:listGroups"],
        }
    ]
}
# What the read-only SAM user opens: the Security tabs its role allows.
SAM_PAGES = [
    "/security/users/",
    "/security/users/alice/",
    "/security/users/alice/authentication",
    "/security/users/alice/permissions",
    "/security/roles/",
    "/security/roles/ops/",
    "/security/default-permissions/",
    "/security/credentials/",
    "/security/groups/",
    "/security/audit/",
    "/security/reports/credentials/",
]


def build_world(root) -> dict:
    """One of every object a page can show; returns the path values and the personas."""
    alice = Principal.objects.create_sam_user(root.operator, "alice", "Alice in ops")
    alice.set_password(SAM_PASSWORD)
    alice.save()
    role = roles.create_role(
        None, root, "ops", '{"statements":[{"effect":"allow","api":"User:getUser"}]}'
    )
    roles.attach_role(None, root, alice, role)
    root_key, _ = authkeys.generate(None, root, root)
    alice_key, _ = authkeys.generate(None, root, alice)
    credentials.create_credential_set(None, root, "beam-psk", "psk", "", {"key": "k" * 16})
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example/in", "beam-psk")})
    support.grant(None, root, 1)
    reviewer = Principal.objects.create_sam_user(root.operator, "reviewer", "reads only")
    reviewer.set_password(SAM_PASSWORD)
    reviewer.save()
    readonly = roles.create_role(None, root, "readonly", json.dumps(READ_ONLY))
    roles.attach_role(None, root, reviewer, readonly)
    staff = Principal.objects.create_staff("helpdesk", STAFF_PASSWORD, Principal.StaffRole.SUPPORT)
    return {
        "user_name": "alice",
        "role_id": "ops",
        "credentials_id": "beam-psk",
        "group_name": "sensors",
        "operator_id": root.operator_id,
        "root_key_id": root_key.key_id,
        "alice_key_id": alice_key.key_id,
        "key_id": alice_key.key_id,
        "reviewer": reviewer,
        "staff": staff,
    }


def _url(route, world: dict) -> str:
    key = "alice_key_id" if "user_name" in route.params else "root_key_id"
    return route.url({**world, "auth_key_id": world[key]})


def pages(world: dict) -> dict[str, list[tuple[str, int]]]:
    """{"root" | "staff" | "anonymous": [(path, expected status)]} of every GET page."""
    found: dict[str, list[tuple[str, int]]] = {"root": [], "staff": [], "anonymous": []}
    for route in all_routes():
        if route.kind != "console" or route.route.startswith("admin/"):
            continue
        method, status, is_page = ANSWERS.get(route.route, ("GET", 200, True))
        if method != "GET" or not is_page:
            continue
        if route.route in SIGN_IN_PAGES:
            who = "anonymous"
        elif route.route.startswith("staff/"):
            who = "staff"
        else:
            who = "root"
        found[who].append((_url(route, world), status))
    return found


def sign_in_as(page, live_server, principal, backend: str) -> None:
    """Give the page's browser context a signed-in session of `principal` (no form)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(principal, backend=backend)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


BACKENDS = {
    "root": "accounts.backends.RootBackend",
    "sam": "accounts.backends.SamUserBackend",
    "staff": "accounts.backends.StaffBackend",
}


def walk(page, live_server, root, world, who: str, expect_answer):
    """Sign in as `who` and yield each of its pages once loaded (path, page)."""
    all_pages = pages(world)
    if who == "root":
        sign_in_as(page, live_server, root, BACKENDS["root"])
        targets = all_pages["root"]
    elif who == "sam":
        sign_in_as(page, live_server, world["reviewer"], BACKENDS["sam"])
        targets = [(path, 200) for path in SAM_PAGES]
    elif who == "staff":
        sign_in_as(page, live_server, world["staff"], BACKENDS["staff"])
        targets = all_pages["staff"]
    else:
        targets = all_pages["anonymous"]
    for path, status in targets:
        if status >= 400:
            expect_answer(status, path)
        page.goto(path)
        page.wait_for_load_state("networkidle")
        yield path
