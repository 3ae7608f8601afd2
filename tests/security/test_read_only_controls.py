"""Read-only viewers see no write control they cannot use (issue 14, item 4).

A SAM user holding only a read-only role (the auditor's reads, plus the groups list) opens
every page of the Security tabs. Each write control the page offers root (a hand-kept list:
the expectation does not come from the views) is, for that viewer, absent or disabled with
the reason; every link and HTMX request left on its pages is one the viewer may follow;
and looking at the pages writes no refusal into the audit log.
"""

import json
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import Client

from accounts.models import Principal
from security import authkeys, credentials, groups, reports, roles
from security.models import AuditEntry
from tests.conftest import SAM_PASSWORD

# page -> the write controls root sees there (their visible labels). Pages loaded into a
# panel by htmx (a user's roles) are listed by their own URL.
WRITE_CONTROLS = {
    "/security/users/": ["Create user"],
    "/security/users/robot/": ["Save description", "Set password", "Delete user"],
    "/security/users/bob/": ["Change password", "Remove password", "Delete user"],
    "/security/users/robot/authentication": ["Generate AuthKey", "Revoke"],
    "/security/users/robot/permissions": ["Remove", "Save", "Check"],
    "/security/users/robot/roles": ["Attach role", "Detach"],
    "/security/roles/": ["Create role"],
    "/security/roles/ops/": ["Delete role", "Save", "Check"],
    "/security/default-permissions/": ["Clear", "Save", "Check"],
    "/security/credentials/": ["Register", "Update", "Delete"],
    "/security/groups/": ["Create group", "Edit", "Delete"],
    "/security/reports/credentials/": ["Create the auditor role"],
    "/security/audit/": ["Audit settings"],
}
READ_ONLY = {
    "statements": [
        {
            "effect": "allow",
            "api": [*reports.AUDITOR_PERMISSION["statements"][0]["api"], "Group:listGroups"],
        }
    ]
}
REASON = "You do not have permission for "


class _Controls(HTMLParser):
    """Every link and button of a page: label, attributes, and the text of each id."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict] = []
        self.texts: dict[str, str] = {}
        self._open: list[tuple[str, dict, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        if tag in ("a", "button") or attrs.get("id"):
            self._open.append((tag, attrs, []))

    def handle_data(self, data):
        for _, _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                _, attrs, text = self._open.pop(i)
                label = " ".join("".join(text).split())
                if attrs.get("id"):
                    self.texts[attrs["id"]] = label
                if tag in ("a", "button"):
                    self.controls.append({"tag": tag, "label": label, **attrs})
                return


def controls_of(body: str) -> _Controls:
    parser = _Controls()
    parser.feed(body)
    return parser


def offered(parsed: _Controls, label: str) -> list[dict]:
    """The controls with that label that can be used (a link, or a button not disabled)."""
    return [c for c in parsed.controls if c["label"] == label and "disabled" not in c]


def why_disabled(parsed: _Controls, control: dict) -> str:
    described = parsed.texts.get(control.get("aria-describedby", ""), "")
    return described or control.get("title", "")


@pytest.fixture
def world(root, robot, operator):
    bob = Principal.objects.create_sam_user(operator, "bob", "has a password")
    bob.set_password(SAM_PASSWORD)
    bob.save()
    ops = roles.create_role(None, root, "ops", '{"statements":[]}')
    roles.attach_role(None, root, robot, ops)
    roles.set_inline_permission(None, root, robot, '{"statements":[]}')  # something to remove
    authkeys.generate(None, root, robot)
    credentials.create_credential_set(None, root, "beam-psk", "psk", "", {"key": "k" * 16})
    groups.create_group(None, root, "sensors", {"beam": ("https://b.example/in", "beam-psk")})
    return {"robot": robot, "bob": bob}


@pytest.fixture
def viewer(world, root, operator) -> Principal:
    """A SAM user holding only a read-only role (not named "auditor": that role is offered)."""
    user = Principal.objects.create_sam_user(operator, "reviewer", "reads only")
    user.set_password(SAM_PASSWORD)
    user.save()
    role = roles.create_role(None, root, "readonly", json.dumps(READ_ONLY))
    roles.attach_role(None, root, user, role)
    return user


@pytest.fixture
def viewer_client(viewer) -> Client:
    client = Client()
    client.force_login(viewer, backend="accounts.backends.SamUserBackend")
    return client


@pytest.mark.parametrize("url", WRITE_CONTROLS)
def test_root_is_offered_every_write_control(world, root_client, url):
    response = root_client.get(url)
    assert response.status_code == 200
    parsed = controls_of(response.content.decode())
    for label in WRITE_CONTROLS[url]:
        assert offered(parsed, label), f"{url}: root is not offered {label!r}"


@pytest.mark.parametrize("url", WRITE_CONTROLS)
def test_a_read_only_viewer_sees_each_write_control_absent_or_disabled_with_why(viewer_client, url):
    response = viewer_client.get(url)
    assert response.status_code == 200
    parsed = controls_of(response.content.decode())
    for label in WRITE_CONTROLS[url]:
        assert not offered(parsed, label), f"{url}: {label!r} is offered to a read-only user"
        for control in (c for c in parsed.controls if c["label"] == label):
            assert REASON in why_disabled(parsed, control), f"{url}: {label!r} says no reason"


@pytest.mark.parametrize("url", WRITE_CONTROLS)
def test_every_link_left_to_a_read_only_viewer_is_allowed(viewer_client, url):
    parsed = controls_of(viewer_client.get(url).content.decode())
    targets = {
        c.get("hx-get") or c.get("href", "")
        for c in parsed.controls
        if c["tag"] == "a" and "disabled" not in c
    }
    targets = {t for t in targets if urlsplit(t).path.startswith("/security/")}
    assert targets, "the page has links"
    refused = [t for t in sorted(targets) if viewer_client.get(t).status_code == 403]
    assert refused == [], refused


def test_looking_at_every_page_records_no_refusal(viewer_client):
    before = AuditEntry.objects.filter(outcome=AuditEntry.Outcome.DENIED).count()
    for url in WRITE_CONTROLS:
        assert viewer_client.get(url).status_code == 200
    assert AuditEntry.objects.filter(outcome=AuditEntry.Outcome.DENIED).count() == before
