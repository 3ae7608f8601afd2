"""No route answers 5xx to hostile input (issue 9 item 10; SECURITY.md G1, M4).

Every console and staff URL pattern and every API route, read from the URL configuration
(tests/routes.py, so a route added later is fuzzed too), is called with:
- hostile values in each path parameter in turn (NUL, a lone surrogate and other bytes that
  are not UTF-8, 10 kB, `..` plain and encoded, unicode, an emoji, spaces, reserved names);
- hostile query strings (NUL, huge and negative numbers, dates at the calendar's ends,
  repeated parameters, long values);
- hostile bodies: for the API wrong types, null, NUL and surrogate escapes, huge numbers,
  deep nesting, duplicate keys and bytes that are not JSON, both whole and field by field;
  for the console and staff forms the same text values in every form field.
The callers are the operator's root (console and API) and a staff member (staff pages and
the Django admin), so that requests get past sign-in into the views. The suite runs on
SQLite and on PostgreSQL (which refuses NUL in text and checks foreign keys at commit).
"""

import json

import pytest
from django.test import Client

from accounts.models import Principal
from security import authkeys, credentials, roles
from security.models import Group
from tests.routes import Route, all_routes, is_staff_page
from tests.security.credential_samples import sample_fields

STAFF_PASSWORD = "staff-Password-4321"

HOSTILE_PATH_VALUES = [
    "%00",
    "a%00b",
    "%ED%A0%80",  # a lone surrogate, as UTF-8 bytes
    "%FF%FE",  # not UTF-8 at all
    "x" * 10_000,
    "..",
    "%2e%2e",
    "%2E%2E%2Fetc",
    "a%2Fb",
    "%E3%83%A6%E3%83%BC%E3%82%B6%E3%83%BC",  # unicode letters
    "%F0%9F%94%91",  # an emoji
    "a%20b",
    "%20",
    "-leading",
    "default_permissions",
    "keyId-" + "A" * 32,
    "OP%00123456789",
    "%3Cscript%3E",
]

_QUERY_NAMES = (
    "page limit last_evaluated_key owner sort type format key_id until since actor action "
    "outcome from_epoch_ms to_epoch_ms api_kind mode next api method source_ip at path_vars"
).split()
HOSTILE_QUERIES = [
    "&".join(f"{n}={v}" for n in _QUERY_NAMES)
    for v in ("%00", "9" * 40, "-1", "9999-12-31", "0001-01-01", "x" * 3000, "%ED%A0%80", "")
] + [
    "&".join(f"{n}=1&{n}=2" for n in _QUERY_NAMES),
    "until=9999-12-31&since=9999-12-31",
    "since=0001-01-01&until=0001-01-01&format=csv",
    "from_epoch_ms=0&to_epoch_ms=253402300799999",
    "page=last&sort=-updated",
]

HOSTILE_BODIES: list[bytes] = [
    b"null",
    b"[]",
    b'"text"',
    b"1e309",
    b"9" * 5000,
    b'{"a": 1, "a": 2}',
    b'{"x":' * 3000 + b"1" + b"}" * 3000,
    b"[" * 100_000,
    b"\xff\xfe\x00",
    b'{"description": "\\u0000", "permission": "\\ud800"}',
    b"{",
]
HOSTILE_FIELD_VALUES = [
    None,
    True,
    0,
    -1,
    10**30,
    1.5,
    [],
    {},
    {"nested": {"deeper": [1, 2, {"x": None}]}},
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "x" * 20_000,
    "9999-12-31",
]
_FIELD_NAMES = (
    "description permission permissions roleId password currentPassword newPassword type "
    "credentials email authKeyId authKey operatorId userName mfaOTPCode tokenTimeoutSeconds"
).split()

_FORM_NAMES = (
    "user_name description role_id permission reason credentials_id type name hours role "
    "new_password confirm_password beam_url beam_credentials funnel_url funnel_credentials "
    "funk_url funk_credentials c__key c__identity api method source_ip at path_vars next "
    "mode root-email root-password sam-operator_id sam-user_name sam-password username "
    "password"
).split()
HOSTILE_FORMS = [
    "&".join(f"{n}={v}" for n in _FORM_NAMES)
    for v in ("%00", "a%00b", "%ED%A0%80", "%FF", "x" * 10_000, "9" * 40, "-1", "")
] + ["&".join(f"{n}=1&{n}=2" for n in _FORM_NAMES)]

ROUTES = [
    r
    for r in all_routes()
    if "(?P" not in r.route and "^" not in r.route  # the admin's catch-all regex routes
]


@pytest.fixture
def world(operator, root, alice):
    """An operator with one of everything, and callers signed in for each kind of page."""
    roles.create_role(None, root, "reader", '{"statements":[]}')
    credentials.create_credential_set(None, root, "psk-1", "psk", "", sample_fields("psk"))
    Group.objects.create(operator=operator, name="fleet")
    support = Principal.objects.create_staff(
        "helpdesk", STAFF_PASSWORD, Principal.StaffRole.SUPPORT
    )
    admin = Principal.objects.create_staff("ops-admin", STAFF_PASSWORD, Principal.StaffRole.ADMIN)
    console = Client(raise_request_exception=False)
    console.force_login(root, backend="accounts.backends.RootBackend")
    staff_client = Client(raise_request_exception=False)
    staff_client.force_login(support, backend="accounts.backends.StaffBackend")
    admin_client = Client(raise_request_exception=False)
    admin_client.force_login(admin, backend="accounts.backends.StaffBackend")
    session = Client().post(
        "/v1/auth",
        {"email": root.email, "password": "root-Password-1234"},
        content_type="application/json",
    )
    return {
        "console": console,
        "staff": staff_client,
        "admin": admin_client,
        "api": {
            "HTTP_X_SORACOM_API_KEY": session.json()["apiKey"],
            "HTTP_X_SORACOM_TOKEN": session.json()["token"],
        },
        "values": {
            "operator_id": operator.pk,
            "user_name": "alice",
            "role_id": "reader",
            "credentials_id": "psk-1",
            "group_name": "fleet",
            "key_id": authkeys.generate(None, root, alice)[0].key_id,
            "root_key": authkeys.generate(None, root, root)[0].key_id,
            "object_id": str(operator.pk),
            "content_type_id": "1",
        },
    }


def _values(route: Route, world: dict) -> dict:
    values = dict(world["values"])
    values["auth_key_id"] = values["key_id"] if "user_name" in route.params else values["root_key"]
    return values


def _client(route: Route, world: dict) -> Client:
    # Each kind of page as the caller it is for: support staff, installation admins, tenants.
    if route.route.startswith("admin/"):
        return world["admin"]
    return world["staff"] if is_staff_page(route) else world["console"]


def _send(route: Route, world: dict, url: str, body: bytes | str | None):
    """Send one request the way the route is called; return the response."""
    if route.kind == "api":
        client = Client(raise_request_exception=False)
        return client.generic(
            route.method,
            url,
            body if body is not None else b"",
            content_type="application/json",
            **world["api"],
        )
    client = _client(route, world)
    if body is None:
        return client.get(url)
    return client.generic(
        "POST", url, body, content_type="application/x-www-form-urlencoded", HTTP_HX_REQUEST="true"
    )


def _check(route: Route, response, what: str, failures: list) -> None:
    status = response.status_code
    if status >= 500:
        failures.append(f"{status} for {what}")
    elif route.kind == "api" and status >= 400:
        if not response["Content-Type"].startswith("application/json"):
            failures.append(f"{status} not JSON for {what}")
        elif set(response.json()) != {"code", "message"}:
            failures.append(f"{status} not {{code, message}} for {what}")


def _methods(route: Route) -> list[bytes | str | None]:
    """Return the bodies to send: API routes once, console views as a GET and an empty POST."""
    if route.kind == "api":
        return [b"{}" if route.method in ("POST", "PUT") else None]
    return [None, ""]


@pytest.mark.parametrize("route", [r for r in ROUTES if r.params], ids=lambda r: r.label)
def test_it_answers_hostile_path_values_without_5xx(world, route):
    failures: list[str] = []
    for param in route.params:
        for hostile in HOSTILE_PATH_VALUES:
            url = route.url({**_values(route, world), param: hostile})
            for body in _methods(route):
                response = _send(route, world, url, body)
                _check(route, response, f"{param}={hostile[:40]} {url[:120]}", failures)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_it_answers_hostile_query_strings_without_5xx(world, route):
    failures: list[str] = []
    base = route.url(_values(route, world))
    for query in HOSTILE_QUERIES:
        url = f"{base}?{query}"
        for body in _methods(route):
            response = _send(route, world, url, body)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)  # an export fails while it streams
            _check(route, response, f"?{query[:80]}", failures)
    assert not failures, "\n".join(failures)


def _field_bodies() -> list[bytes]:
    bodies = []
    for name in _FIELD_NAMES:
        for value in HOSTILE_FIELD_VALUES:
            try:
                bodies.append(json.dumps({name: value}).encode())
            except UnicodeEncodeError:  # pragma: no cover (json escapes surrogates)
                continue
    bodies.append(json.dumps({n: "x" for n in _FIELD_NAMES}).encode())
    bodies.append(json.dumps(dict.fromkeys(_FIELD_NAMES)).encode())
    return bodies


API_WITH_BODY = [r for r in ROUTES if r.kind == "api" and r.method in ("POST", "PUT", "DELETE")]


@pytest.mark.parametrize("route", API_WITH_BODY, ids=lambda r: r.label)
def test_it_answers_hostile_api_bodies_without_5xx(world, route):
    failures: list[str] = []
    url = route.url(_values(route, world))
    for body in HOSTILE_BODIES + _field_bodies():
        response = _send(route, world, url, body)
        _check(route, response, f"body {body[:60]!r}", failures)
    assert not failures, "\n".join(failures)


CONSOLE = [r for r in ROUTES if r.kind == "console"]


@pytest.mark.parametrize("route", CONSOLE, ids=lambda r: r.label)
def test_it_answers_hostile_form_posts_without_5xx(world, route):
    failures: list[str] = []
    url = route.url(_values(route, world))
    for form in HOSTILE_FORMS:
        response = _send(route, world, url, form)
        _check(route, response, f"form {form[:60]}", failures)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_it_fuzzes_past_sign_in(world, route):
    """The baseline request is signed in, so the hostile ones reach the view's own checks."""
    response = _send(route, world, route.url(_values(route, world)), _methods(route)[0])
    assert response.status_code != 401, response.content[:200]
    assert "/login/" not in response.get("Location", ""), response["Location"]
