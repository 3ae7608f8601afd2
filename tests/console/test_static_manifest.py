"""Every console page renders with the production static storage after `collectstatic`.

The test settings serve static files plainly, where production uses whitenoise's
CompressedManifestStaticFilesStorage: a template naming a file that does not exist
renders there and only fails in production ("Missing staticfiles manifest entry"). Here
`collectstatic` runs into a temporary STATIC_ROOT, and every console route (from the URL
configuration, so a new page is included by itself) is rendered with real objects, as
root, as a staff member and anonymously; every /static/ URL a page names must be a
collected, hashed file.
"""

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from accounts.models import Principal
from security import authkeys, credentials, groups, roles, support
from tests.conftest import SAM_PASSWORD
from tests.routes import all_routes

MANIFEST_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# What a route answers when it is not a page for GET: (method, status, whether the answer
# is a whole page). Every other console route must answer GET with a 200 page.
ANSWERS = {
    "": ("GET", 302, False),  # redirects to the first page the caller may open
    "healthz": ("GET", 200, False),  # JSON
    "logout/": ("POST", 302, False),  # POST only
    "staff/logout/": ("POST", 302, False),  # POST only
    "v1/": ("GET", 404, False),  # the API index (docs disabled)
    ".well-known/jwks.json": ("GET", 200, False),  # JSON
    "v1/openapi.json": ("GET", 200, False),  # JSON
    "v1/leaks/github": ("POST", 401, False),  # GitHub's leak reports: JSON, signed
    # OAuth 2.0 (docs/oauth.md): JSON documents and form-posting endpoints, no pages.
    ".well-known/oauth-authorization-server": ("GET", 200, False),
    ".well-known/openid-configuration": ("GET", 200, False),
    "oauth/token": ("POST", 400, False),  # no grant_type: invalid_request
    "oauth/introspect": ("POST", 400, False),  # an empty form: invalid_request
    "oauth/revoke": ("POST", 400, False),
    "security/audit/export.csv": ("GET", 200, False),
    "security/audit/checkpoint.json": ("GET", 200, False),  # a signed checkpoint (JSON)
    "security/reports/credentials.csv": ("GET", 200, False),
    "security/credentials/fields": ("GET", 200, False),  # an HTMX fragment of a dialog
    "staff/": ("GET", 302, False),  # redirects to the first staff page
    # alice has a password: the first-password page says so (409), as the API would.
    "security/users/<name:user_name>/password": ("GET", 409, True),
    # POST-only actions. Without JavaScript an empty form is refused with 400 and its page
    # rendered again; an AuthKey generate shows the page with the secret.
    "security/users/<name:user_name>/update": ("POST", 200, True),
    "security/authkeys/generate": ("POST", 200, True),
    "security/users/<name:user_name>/authkeys/generate": ("POST", 200, True),
    # The AuthKey lifecycle's one-button actions redirect to the tab without JavaScript.
    "security/authkeys/lifetime": ("POST", 302, False),
    "security/authkeys/<keyid:auth_key_id>/deactivate": ("POST", 302, False),
    "security/authkeys/<keyid:auth_key_id>/activate": ("POST", 302, False),
    "security/authkeys/<keyid:auth_key_id>/cancel-roll": ("POST", 302, False),
    "security/users/<name:user_name>/authkeys/<keyid:auth_key_id>/deactivate": ("POST", 302, False),
    "security/users/<name:user_name>/authkeys/<keyid:auth_key_id>/activate": ("POST", 302, False),
    "security/users/<name:user_name>/authkeys/<keyid:auth_key_id>/cancel-roll": (
        "POST",
        302,
        False,
    ),
    "security/roles/<name:role_id>/update": ("POST", 400, True),
    "security/default-permissions/update": ("POST", 400, True),
    "security/users/<name:user_name>/permissions/update": ("POST", 400, True),
    "security/users/<name:user_name>/trust-policy/update": ("POST", 400, True),
    "security/switch-user/back": ("POST", 302, False),  # not switched: back to the console
    "security/support/grant": ("POST", 400, True),
    "staff/authkeys/<keyid:key_id>/revoke": ("POST", 400, True),
    "security/reports/auditor-role": ("POST", 302, False),  # creates the role, redirects
    "security/support/withdraw": ("POST", 302, False),
    # Second factors: the second step without a half-signed-in state sends back to sign-in;
    # "Set up" shows the enrolment page; the others redirect (nothing to verify or remove).
    "login/verify/": ("GET", 302, False),
    "login/passkey/options": ("POST", 200, False),  # JSON
    "login/passkey": ("POST", 400, False),  # JSON
    "security/account/mfa/enable": ("POST", 200, True),
    "security/account/mfa/verify": ("POST", 302, False),
    "security/account/mfa/revoke": ("POST", 302, False),
    "security/account/mfa/requirement": ("POST", 302, False),
    "security/users/<name:user_name>/mfa/enable": ("POST", 200, True),
    "security/users/<name:user_name>/mfa/verify": ("POST", 302, False),
    "security/users/<name:user_name>/mfa/revoke": ("POST", 302, False),
    "security/account/passkeys/options": ("POST", 200, False),  # JSON
    "security/account/passkeys/register": ("POST", 400, False),  # JSON
    "security/account/passkeys/<int:passkey_id>/delete": ("POST", 404, False),
    "security/users/<name:user_name>/passkeys/options": ("POST", 400, False),  # root for alice
    "security/users/<name:user_name>/passkeys/register": ("POST", 400, False),
    "security/users/<name:user_name>/passkeys/<int:passkey_id>/delete": ("POST", 404, False),
}
_STATIC_URL = re.compile(r"""(?:src|href)=["'](/static/[^"'?#]+)""")


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(STATIC_ROOT=root, STORAGES=MANIFEST_STORAGES):
        call_command("collectstatic", "--noinput", verbosity=0)
    assert (root / "staticfiles.json").exists()
    return root


@pytest.fixture
def manifest(settings, static_root) -> Path:
    settings.STATIC_ROOT = static_root
    settings.STORAGES = MANIFEST_STORAGES
    settings.DEBUG = False
    return static_root


@pytest.fixture
def world(root, alice):
    """One of every object a console page can show, so that every template renders."""
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
    staff = Principal.objects.create_staff(
        "helpdesk", "staff-Password-4321", Principal.StaffRole.SUPPORT
    )
    return {
        "user_name": "alice",
        "role_id": "ops",
        "credentials_id": "beam-psk",
        "group_name": "sensors",
        "operator_id": root.operator_id,
        "key_id": alice_key.key_id,
        "root_key_id": root_key.key_id,
        "alice_key_id": alice_key.key_id,
        "staff": staff,
    }


def _url(route, world) -> str:
    values = dict(world)
    # An operator key on the operator's AuthKeys routes, alice's key on alice's.
    key = "alice_key_id" if "user_name" in route.params else "root_key_id"
    values["auth_key_id"] = world[key]
    return route.url(values)


SIGN_IN_PAGES = {"login/", "staff/login/"}


def _client_for(route, root, world) -> Client:
    client = Client()
    if route.route in SIGN_IN_PAGES:
        return client  # a signed-in caller is sent on to its pages
    if getattr(route.callback, "staff_only", False) or route.route.startswith("staff/"):
        client.force_login(world["staff"], backend="accounts.backends.StaffBackend")
    else:
        client.force_login(root, backend="accounts.backends.RootBackend")
    return client


def _assert_static_urls_collected(body: str, static_root: Path) -> int:
    urls = _STATIC_URL.findall(body)
    for url in urls:
        name = url.removeprefix("/static/")
        assert (static_root / name).is_file(), f"{url} is not a collected file"
        # The manifest storage names every file by its content hash.
        assert re.search(r"\.[0-9a-f]{12}\.", name), f"{url} is not a hashed name"
    return len(urls)


CONSOLE_ROUTES = [
    r for r in all_routes() if r.kind == "console" and not r.route.startswith("admin/")
]


@pytest.mark.parametrize("route", CONSOLE_ROUTES, ids=lambda r: r.route or "home")
def test_it_renders_the_page_with_the_manifest_storage(route, manifest, root, world):
    method, expected, is_page = ANSWERS.get(route.route, ("GET", 200, True))
    client = _client_for(route, root, world)
    response = client.generic(method, _url(route, world))
    assert response.status_code == expected, response.content[:500]
    if not is_page:
        return
    assert response["Content-Type"].startswith("text/html")
    assert b"<html" in response.content  # the whole page, base template and all
    assert _assert_static_urls_collected(response.content.decode(), manifest) >= 3


@pytest.mark.parametrize("path", ["/no-such-page/", "/security/users/nobody/"])
def test_it_renders_the_not_found_page_with_the_manifest_storage(path, manifest, root_client):
    response = root_client.get(path)
    assert response.status_code == 404
    assert _assert_static_urls_collected(response.content.decode(), manifest) >= 3


def test_it_renders_the_forbidden_page_with_the_manifest_storage(manifest, alice_client):
    response = alice_client.get("/security/users/")
    assert response.status_code == 403
    assert _assert_static_urls_collected(response.content.decode(), manifest) >= 3


def test_it_renders_the_admin_with_the_manifest_storage(manifest, ops_admin):
    client = Client()
    assert client.get("/admin/login/").status_code == 200
    client.force_login(ops_admin, backend="accounts.backends.StaffBackend")
    response = client.get("/admin/")
    assert response.status_code == 200
    assert _assert_static_urls_collected(response.content.decode(), manifest) >= 1


def test_it_covers_every_console_page(world):
    # The parametrized test is built from the URL configuration: make sure it found pages.
    pages = [r for r in CONSOLE_ROUTES if ANSWERS.get(r.route, ("GET", 200, True))[2]]
    assert len(pages) > 40
    assert set(ANSWERS) <= {r.route for r in CONSOLE_ROUTES}
