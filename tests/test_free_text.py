"""No secret is kept in clear in free text (issue 9 item 7).

Every text field that the console's forms and the API's schemas accept is listed here:
either in REFUSED (a person typed it and others will read it: a pasted secret answers 400
with a field error, nothing is stored, nothing is echoed), or in EXEMPT with the reason it
needs no check. Attacker-chosen text that nobody typed (user agents, the user name of a
failed sign-in, a path) is redacted before it reaches the audit trail (REDACTED). The walk
at the bottom fails when a form or schema gains a text field that is in neither table.
"""

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

import pytest
from django import forms
from django.apps import apps
from django.test import Client, RequestFactory

from accounts.models import Principal
from console import secretscan
from console.fields import FreeTextField
from security import (
    authkeys,
    credentials,
    forms_authkeys,
    forms_credentials,
    forms_roles,
    forms_signin,
    forms_staff,
    forms_switching,
    forms_users,
    roles,
    views_audit,
    views_support,
)
from security.models import AuditEntry, AuthKey, Group
from tests.api.harness import call
from tests.routes import all_routes
from tests.security.credential_samples import sample_fields

HX = {"HTTP_HX_REQUEST": "true"}
STAFF_PASSWORD = "staff-Password-4321"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _token() -> str:
    header = _b64({"alg": "EdDSA", "typ": "JWT", "kid": "k1"})
    payload = _b64({"sub": "alice", "jti": uuid.uuid4().hex})
    return f"{header}.{payload}.{'s' * 86}"


SECRETS = {
    "authkey-secret": authkeys.new_secret,
    "api-key": lambda: f"api-{uuid.uuid4()}",
    "api-token": _token,
}


def stored_text() -> str:
    """Return every row of every Latchkey table as one string (what a dump would show)."""
    rows = []
    for label in ("accounts", "security"):
        for model in apps.get_app_config(label).get_models():
            rows += [repr(r) for r in model.objects.values_list()]
    return "\n".join(rows)


@dataclass(frozen=True)
class Case:
    submit: Callable  # (ctx, secret) -> response
    api: bool = False


@pytest.fixture
def ctx(root, alice, operator):
    """Everything a case needs: clients, an AuthKey to revoke, a role, a set, a group."""
    root_client = Client()
    root_client.force_login(root, backend="accounts.backends.RootBackend")
    staff = Principal.objects.create_staff("helpdesk", STAFF_PASSWORD, Principal.StaffRole.SUPPORT)
    staff_client = Client()
    staff_client.force_login(staff, backend="accounts.backends.StaffBackend")
    admin = Principal.objects.create_staff("ops-admin", STAFF_PASSWORD, Principal.StaffRole.ADMIN)
    admin_client = Client()
    admin_client.force_login(admin, backend="accounts.backends.StaffBackend")
    data = (
        Client()
        .post(
            "/v1/auth",
            {"email": root.email, "password": "root-Password-1234"},
            content_type="application/json",
        )
        .json()
    )
    roles.create_role(None, root, "reader", '{"statements":[]}')
    credentials.create_credential_set(None, root, "psk-1", "psk", "", sample_fields("psk"))
    Group.objects.create(operator=operator, name="fleet")
    return {
        "root": root,
        "alice": alice,
        "op": operator.pk,
        "console": root_client,
        "staff": staff_client,
        "admin": admin_client,
        "api": {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]},
        "root_key": authkeys.generate(None, root, root)[0].key_id,
        "alice_key": authkeys.generate(None, root, alice)[0].key_id,
    }


def _doc(secret: str) -> str:
    condition = f"samUserName == '{secret}'"
    return json.dumps({"statements": [{"effect": "allow", "api": "*", "condition": condition}]})


def _trust_doc(secret: str) -> str:
    condition = f"samUserName == '{secret}'"
    principal = {"soracom": ["srn:soracom:OP0000000001::User:bob"]}
    statement = {"effect": "allow", "principal": principal, "condition": condition}
    return json.dumps({"statements": [statement]})


def _console(path: str, data: Callable[[str], dict]) -> Case:
    return Case(lambda c, s: c["console"].post(path, data(s), **HX))


def _api(method: str, path: str, body: Callable[[str], dict]) -> Case:
    return Case(
        lambda c, s: call(method, path.format(op=c["op"]), c["api"], body(s)),
        api=True,
    )


def _api_path(method: str, path: str, body: dict) -> Case:
    return Case(lambda c, s: call(method, path.format(op=c["op"], s=s), c["api"], body), api=True)


def _group_form(**extra) -> Callable[[str], dict]:
    return lambda s: {"name": "g2", **{k: v(s) for k, v in extra.items()}}


def _credential_form(**extra) -> Callable[[str], dict]:
    def data(s: str) -> dict:
        fields = {f"c__{k}": v for k, v in sample_fields("psk").items()}
        base = {"credentials_id": "psk-2", "type": "psk", "description": "", **fields}
        return {**base, **{k: v(s) for k, v in extra.items()}}

    return data


EMPTY = '{"statements":[]}'

# field -> the endpoint(s) that accept it, each submitting a secret.
REFUSED: dict[str, list[Case]] = {
    # Console forms ------------------------------------------------------------------------
    "UserCreateForm.user_name": [_console("/security/users/new", lambda s: {"user_name": s})],
    "UserCreateForm.description": [
        _console("/security/users/new", lambda s: {"user_name": "bob", "description": s})
    ],
    "DescriptionForm.description": [
        _console("/security/users/alice/update", lambda s: {"description": f"key: {s}"})
    ],
    "RoleCreateForm.role_id": [
        _console("/security/roles/new", lambda s: {"role_id": s, "permission": EMPTY})
    ],
    "RoleCreateForm.description": [
        _console(
            "/security/roles/new",
            lambda s: {"role_id": "r2", "description": s, "permission": EMPTY},
        )
    ],
    "RoleCreateForm.permission": [
        _console("/security/roles/new", lambda s: {"role_id": "r2", "permission": _doc(s)})
    ],
    "RoleForm.description": [
        _console("/security/roles/reader/update", lambda s: {"description": s, "permission": EMPTY})
    ],
    "RoleForm.permission": [
        _console("/security/roles/reader/update", lambda s: {"permission": _doc(s)})
    ],
    "PermissionForm.permission": [
        _console("/security/users/alice/permissions/update", lambda s: {"permission": _doc(s)}),
        _console("/security/default-permissions/update", lambda s: {"permission": _doc(s)}),
    ],
    "GenerateAuthKeyForm.description": [
        _console("/security/users/alice/authkeys/generate", lambda s: {"description": f"ci {s}"})
    ],
    "GenerateAuthKeyForm.allowed_networks": [
        _console(
            "/security/users/alice/authkeys/generate",
            lambda s: {"allowed_networks": f"10.0.0.0/8\n{s}"},
        )
    ],
    "SourceNetworksForm.allowed_networks": [
        Case(
            lambda c, s: c["console"].post(
                f"/security/users/alice/authkeys/{c['alice_key']}/sources",
                {"allowed_networks": s},
                **HX,
            )
        ),
    ],
    "TrustPolicyForm.trust_policy": [
        _console(
            "/security/users/alice/trust-policy/update", lambda s: {"trust_policy": _trust_doc(s)}
        )
    ],
    "RevokeAuthKeyForm.reason": [
        Case(
            lambda c, s: c["console"].post(
                f"/security/authkeys/{c['root_key']}/revoke", {"reason": f"leaked: {s}"}, **HX
            )
        ),
        Case(
            lambda c, s: c["console"].post(
                f"/security/users/alice/authkeys/{c['alice_key']}/revoke", {"reason": s}, **HX
            )
        ),
    ],
    "RevokeForm.reason": [
        Case(
            lambda c, s: c["staff"].post(
                f"/staff/authkeys/{c['alice_key']}/revoke", {"reason": f"reported {s}"}
            )
        )
    ],
    "QuotaForm.reason": [
        Case(
            lambda c, s: c["admin"].post(
                "/admin/quotas/", {"operator_id": c["op"], "credentials": "150", "reason": s}
            )
        )
    ],
    "CredentialCreateForm.credentials_id": [
        _console("/security/credentials/new", _credential_form(credentials_id=lambda s: s))
    ],
    "CredentialCreateForm.description": [
        _console("/security/credentials/new", _credential_form(description=lambda s: s))
    ],
    "CredentialUpdateForm.description": [
        _console("/security/credentials/psk-1/update", lambda s: {"description": s})
    ],
    "GroupForm.name": [_console("/security/groups/new", lambda s: {"name": s})],
    "GroupForm.*_url": [
        _console(
            "/security/groups/new",
            _group_form(beam_url=lambda s: f"https://example.com/hook?token={s}"),
        ),
        _console(
            "/security/groups/fleet/update",
            lambda s: {"funnel_url": f"https://example.com/{s}"},
        ),
    ],
    # API schemas -------------------------------------------------------------------------
    "User:createUser path.user_name": [_api_path("POST", "/v1/operators/{op}/users/{s}", {})],
    "Operator:updateOperatorAuthKeySourceNetworks body.allowedSourceNetworks": [
        Case(
            lambda c, s: call(
                "PUT",
                f"/v1/operators/{c['op']}/auth_keys/{c['root_key']}/source_networks",
                c["api"],
                {"allowedSourceNetworks": ["10.0.0.0/8", s]},
            ),
            api=True,
        )
    ],
    "User:updateUserAuthKeySourceNetworks body.allowedSourceNetworks": [
        Case(
            lambda c, s: call(
                "PUT",
                f"/v1/operators/{c['op']}/users/alice/auth_keys/{c['alice_key']}/source_networks",
                c["api"],
                {"allowedSourceNetworks": [s]},
            ),
            api=True,
        )
    ],
    "User:createUser body.description": [
        _api("POST", "/v1/operators/{op}/users/bob", lambda s: {"description": s})
    ],
    "User:updateUser body.description": [
        _api("PUT", "/v1/operators/{op}/users/alice", lambda s: {"description": s})
    ],
    "Role:createRole path.role_id": [
        _api_path("POST", "/v1/operators/{op}/roles/{s}", {"permission": EMPTY})
    ],
    "Role:createRole body.permission": [
        _api("POST", "/v1/operators/{op}/roles/r2", lambda s: {"permission": _doc(s)})
    ],
    "Role:createRole body.description": [
        _api(
            "POST",
            "/v1/operators/{op}/roles/r2",
            lambda s: {"permission": EMPTY, "description": s},
        )
    ],
    "Role:updateRole body.permission": [
        _api("PUT", "/v1/operators/{op}/roles/reader", lambda s: {"permission": _doc(s)})
    ],
    "Role:updateRole body.description": [
        _api(
            "PUT",
            "/v1/operators/{op}/roles/reader",
            lambda s: {"permission": EMPTY, "description": s},
        )
    ],
    "User:updateUserPermission body.permission": [
        _api("PUT", "/v1/operators/{op}/users/alice/permission", lambda s: {"permission": _doc(s)})
    ],
    "User:updateDefaultPermissions body.permissions": [
        _api(
            "PUT",
            "/v1/operators/{op}/users/default_permissions",
            lambda s: {"permissions": _doc(s)},
        )
    ],
    "User:updateUserTrustPolicy body.trustPolicy": [
        _api(
            "PUT",
            "/v1/operators/{op}/users/alice/trust_policy",
            lambda s: {"trustPolicy": _trust_doc(s)},
        )
    ],
    "Credential:createCredential path.credentials_id": [
        _api_path(
            "POST",
            "/v1/credentials/{s}",
            {"type": "psk", "credentials": sample_fields("psk")},
        )
    ],
    "Credential:createCredential body.description": [
        _api(
            "POST",
            "/v1/credentials/psk-2",
            lambda s: {"type": "psk", "description": s, "credentials": sample_fields("psk")},
        )
    ],
    "Credential:updateCredential body.description": [
        _api("PUT", "/v1/credentials/psk-1", lambda s: {"description": s})
    ],
}

_SIGN_IN = "a sign-in credential, never stored; a failed attempt's user name is redacted"
_SWITCH_TARGET = "names a switch target: looked up, never stored (a refusal's target redacted)"
_LOOKUP = "names an existing object: looked up, never stored (the audit path is redacted)"
EXEMPT: dict[str, str] = {
    "RootSignInForm.email": _SIGN_IN,
    "RootSignInForm.password": "a password: hashed, never stored or shown",
    "SamSignInForm.operator_id": _SIGN_IN,
    "SamSignInForm.user_name": _SIGN_IN,
    "SamSignInForm.password": "a password: hashed, never stored or shown",
    "_NewPasswordForm.new_password": "a password: hashed, never stored or shown",
    "_NewPasswordForm.confirm_password": "a password: compared, never stored",
    "SetPasswordForm.new_password": "a password: hashed, never stored or shown",
    "SetPasswordForm.confirm_password": "a password: compared, never stored",
    "ChangePasswordForm.current_password": "a password: compared, never stored",
    "ChangePasswordForm.new_password": "a password: hashed, never stored or shown",
    "ChangePasswordForm.confirm_password": "a password: compared, never stored",
    "SupportSignInForm.handle": _SIGN_IN,
    "SupportSignInForm.password": "a password: hashed, never stored or shown",
    "InstallationAdminSignInForm.username": _SIGN_IN,
    "InstallationAdminSignInForm.password": "a password: hashed, never stored or shown",
    "QuotaForm.operator_id": "an operator ID: checked against its rule, never free text",
    "AuditFilterForm.actor": "a search filter: never stored",
    "AuditFilterForm.action": "a search filter: never stored",
    "AuditFilterForm.q": "a search filter: never stored (a secret is refused, not echoed)",
    "SearchForm.q": "a list's search box: never stored (a secret is refused, not echoed)",
    "SimulatorForm.source_ip": "a simulated request: never stored",
    "SimulatorForm.path_vars": "a simulated request: never stored",
    "CredentialCreateForm.c__*": "a credential set's values: secrets by design, sealed",
    "CredentialUpdateForm.c__*": "a credential set's values: secrets by design, sealed",
    "v1/auth body.email": _SIGN_IN,
    "v1/auth body.password": _SIGN_IN,
    "v1/auth body.authKeyId": _SIGN_IN,
    "v1/auth body.authKey": _SIGN_IN,
    "v1/auth body.operatorId": _SIGN_IN,
    "v1/auth body.userName": _SIGN_IN,
    "v1/auth body.mfaOTPCode": _SIGN_IN,
    "ForgotPasswordForm.email": "an address to mail a reset code to: looked up, never stored",
    "ResetPasswordForm.token": "a reset code: hashed and compared, never stored or shown",
    "ResetPasswordForm.new_password": "a password: hashed, never stored or shown",
    "ResetPasswordForm.confirm_password": "a password: compared, never stored",
    "v1/auth/password_reset_token/issue body.email": "an address to mail a code to: not stored",
    "v1/auth/password_reset_token/verify body.token": "a reset code: hashed and compared",
    "v1/auth/password_reset_token/verify body.password": "a password: hashed, never stored",
    "User:createUserPassword body.password": "a password: hashed, never stored or shown",
    "User:updateUserPassword body.currentPassword": "a password: compared, never stored",
    "User:updateUserPassword body.newPassword": "a password: hashed, never stored or shown",
    "Operator:updateOperatorPassword body.currentPassword": "a password: compared, never stored",
    "Operator:updateOperatorPassword body.newPassword": "a password: hashed, never stored",
    "User:updateUserPermission body.description": "in the contract's body; never stored",
    "Role:attachRole body.roleId": "names an existing role (refusal echoes it redacted)",
    "Role:listRoles query.owner": "one of three words",
    "User:listUsers query.last_evaluated_key": "a page key: a user name, looked up",
    "Credential:createCredential body.type": "one of the known type names",
    "Credential:createCredential body.credentials": "a credential set's values: sealed",
    "Credential:updateCredential body.credentials": "a credential set's values: sealed",
    "Credential:updateCredential body.type": "one of the known type names",
    "User:createUserPassword path.user_name": _LOOKUP,
    "Operator:revokeMFA body.password": "a password: compared, never stored",
    "v1/operators/mfa_revoke_token/issue body.email": _SIGN_IN,
    "v1/operators/mfa_revoke_token/issue body.password": "a password: compared, never stored",
    "v1/operators/mfa_revoke_token/verify body.email": _SIGN_IN,
    "v1/operators/mfa_revoke_token/verify body.password": "a password: compared, never stored",
    "v1/operators/mfa_revoke_token/verify body.token": "a token: hashed and compared, never stored",
    "v1/operators/mfa_revoke_token/verify body.backupCode": "a backup code: hashed and compared",
    "Operator:verifyMFA body.mfaOTPCode": "a TOTP code: compared, never stored or echoed",
    "User:verifyUserMFA body.mfaOTPCode": "a TOTP code: compared, never stored or echoed",
    "User:enableUserMFA path.user_name": _LOOKUP,
    "User:verifyUserMFA path.user_name": _LOOKUP,
    "User:generateUserAuthKey path.user_name": _LOOKUP,
    "Operator:rollOperatorAuthKey path.auth_key_id": _LOOKUP,
    "User:rollUserAuthKey path.user_name": _LOOKUP,
    "User:rollUserAuthKey path.auth_key_id": _LOOKUP,
    "Role:attachRole path.user_name": _LOOKUP,
    "SwitchForm.operator_id": _SWITCH_TARGET,
    "SwitchForm.user_name": _SWITCH_TARGET,
    "Auth:switchUser body.operatorId": _SWITCH_TARGET,
    "Auth:switchUser body.userName": _SWITCH_TARGET,
}


def _cases() -> list[tuple[str, str, Case]]:
    return [
        (field, kind, case)
        for field, cases in REFUSED.items()
        for case in cases
        for kind in SECRETS
    ]


@pytest.mark.parametrize(
    ("field", "kind", "case"),
    _cases(),
    ids=[f"{f}-{k}-{i}" for i, (f, k, _) in enumerate(_cases())],
)
def test_it_refuses_a_secret_in_each_free_text_field(ctx, field, kind, case):
    secret = SECRETS[kind]()
    before = stored_text()
    response = case.submit(ctx, secret)
    assert response.status_code == 400, (field, response.status_code, response.content[:300])
    body = response.content.decode()
    assert secret not in body  # never echoed back, not even into the re-rendered form
    if case.api:
        assert set(response.json()) == {"code", "message"}
    assert secret not in stored_text()
    # Nothing but audit entries of the refusal (which hold no secret either) was written.
    assert stored_text().count("\n") - before.count("\n") <= 2


def test_it_names_the_field_and_the_kind_of_secret(ctx):
    response = call(
        "PUT",
        f"/v1/operators/{ctx['op']}/users/alice",
        ctx["api"],
        {"description": "ci: " + authkeys.new_secret()},
    )
    assert response.json()["message"].startswith(
        "The description holds what looks like an AuthKey secret."
    )


def test_it_names_the_statement_of_a_secret_in_a_permission(ctx):
    response = call(
        "PUT",
        f"/v1/operators/{ctx['op']}/roles/reader",
        ctx["api"],
        {"permission": _doc(authkeys.new_secret())},
    )
    assert response.json()["message"].startswith("Statement 1: The condition holds")


def test_it_keeps_text_that_only_looks_like_a_secret(ctx):
    # The checksum tells a real secret from look-alike text: one changed character is not one.
    secret = authkeys.new_secret()
    typo = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    response = call(
        "PUT", f"/v1/operators/{ctx['op']}/users/alice", ctx["api"], {"description": typo}
    )
    assert response.status_code == 200
    assert Principal.objects.get(pk=ctx["alice"].pk).description == typo


# Redacted: attacker-chosen text that nobody typed ----------------------------------------


def _failed_api_sign_in(c, secret):
    Client().post(
        "/v1/auth",
        {"operatorId": c["op"], "userName": secret, "password": "wrong-Password-1"},
        content_type="application/json",
        HTTP_USER_AGENT=f"curl/8 {secret}",
    )


def _failed_console_sign_in(c, secret):
    Client().post(
        "/login/?mode=sam",
        {
            "mode": "sam",
            "sam-operator_id": c["op"],
            "sam-user_name": secret,
            "sam-password": "wrong-Password-1",
        },
        HTTP_USER_AGENT=secret,
    )


def _denied_path(c, secret):
    client = Client()
    client.force_login(c["alice"], backend="accounts.backends.SamUserBackend")
    client.get(f"/security/users/{secret}/", HTTP_USER_AGENT=secret)


def _staff_sign_in(c, secret):
    Client().post("/admin/login/", {"username": secret, "password": "wrong"})


REDACTED = {
    "user agent and user name of a failed /v1/auth": _failed_api_sign_in,
    "user agent and user name of a failed console sign-in": _failed_console_sign_in,
    "path and target of a denied console request": _denied_path,
    "user name of a failed staff sign-in": _staff_sign_in,
}


@pytest.mark.parametrize("kind", list(SECRETS))
@pytest.mark.parametrize("where", list(REDACTED))
def test_it_redacts_attacker_chosen_text_before_the_audit_trail(ctx, where, kind):
    secret = SECRETS[kind]()
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
    REDACTED[where](ctx, secret)
    assert secret not in stored_text()
    recorded = list(AuditEntry.objects.filter(id__gt=before))
    # The attempt is still recorded, with the secret taken out (a token, longer than any
    # user name or staff handle, is refused by the sign-in forms and matches no console
    # path: nothing to record).
    too_long = kind == "api-token" and ("console" in where or "staff" in where)
    assert recorded or too_long
    for entry in recorded:
        assert any(
            secretscan.is_redacted(f) for f in (entry.target, entry.user_agent, entry.request_path)
        )


# The walk: every text field is in one of the tables -------------------------------------

_TEXT_FIELDS = (forms.CharField,)
_DYNAMIC = {"c__": "c__*", "_url": "*_url"}


def _project_forms() -> list[type[forms.Form]]:
    modules = (
        forms_users,
        forms_signin,
        forms_roles,
        forms_authkeys,
        forms_credentials,
        forms_switching,
    )
    found, stack = set(), list(forms.Form.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if cls.__module__.split(".")[0] in ("accounts", "security", "console"):
            found.add(cls)
    assert {views_audit.AuditFilterForm, views_support.RevokeForm} <= found
    assert all(any(f.__module__ == m.__name__ for f in found) for m in modules)
    return sorted(found, key=lambda c: c.__name__)


def _bound_fields(cls, root, alice) -> dict:
    """Return a form's fields, dynamic ones included (built as the views build them)."""
    kwargs = {
        forms_users.UserCreateForm: {"actor": root},
        forms_users._NewPasswordForm: {"user": alice},
        forms_users.SetPasswordForm: {"user": alice},
        forms_users.ChangePasswordForm: {"user": alice},
        forms_staff.SupportSignInForm: {"request": None},
        forms_staff.InstallationAdminSignInForm: {"request": None},
        forms_roles.RoleCreateForm: {"actor": root},
        forms_roles.AttachForm: {"subject": alice},
        forms_authkeys.RevokeAuthKeyForm: {"request": None, "key": None},
        forms_authkeys.SourceNetworksForm: {"request": None, "key": AuthKey(allowed_networks="")},
        forms_credentials.CredentialCreateForm: {"actor": root, "kind": "psk"},
    }
    if cls is forms_credentials.CredentialUpdateForm:
        cs = credentials.create_credential_set(None, root, "walk", "psk", "", sample_fields("psk"))
        return cls(actor=root, instance=cs).fields
    if cls.__name__ == "_CredentialFormBase":
        return {}
    if cls is forms_credentials.GroupForm:  # its set choices are decided per request
        request = RequestFactory().get("/security/groups/new")
        request.user = root
        return cls(request=request).fields
    return cls(**kwargs.get(cls, {})).fields


def _key(form: str, name: str) -> str:
    for marker, pattern in _DYNAMIC.items():
        if marker in name:
            return f"{form}.{pattern}"
    return f"{form}.{name}"


def test_it_lists_every_text_field_of_every_console_form(root, alice):
    missing = []
    for cls in _project_forms():
        for name, field in _bound_fields(cls, root, alice).items():
            key = _key(cls.__name__, name)
            if isinstance(field, _TEXT_FIELDS) and key not in REFUSED and key not in EXEMPT:
                missing.append(key)
    assert not missing, f"text fields in neither REFUSED nor EXEMPT: {missing}"


def test_it_uses_the_refusing_field_for_every_refused_console_field(root, alice):
    for cls in _project_forms():
        for name, field in _bound_fields(cls, root, alice).items():
            # The staff reason forms refuse in their own words (support.SECRET_IN_REASON).
            own_words = (views_support.RevokeForm, forms_staff.QuotaForm)
            if _key(cls.__name__, name) in REFUSED and cls not in own_words:
                assert isinstance(field, FreeTextField), f"{cls.__name__}.{name}"


def _text_in(annotation) -> bool:
    """Return whether values of this annotation can hold text (str, Any, or containers of)."""
    if annotation is str or annotation is Any:
        return True
    return any(_text_in(arg) for arg in get_args(annotation))


def _schema_text_fields(model, prefix: str = ""):
    for name, info in model.model_fields.items():
        annotation = info.annotation
        schemas = [a for a in (annotation, *get_args(annotation)) if hasattr(a, "model_fields")]
        if schemas:
            for schema in schemas:
                yield from _schema_text_fields(schema, prefix)
        elif _text_in(annotation):
            yield prefix + name


def test_it_lists_every_text_field_of_every_api_schema():
    missing = []
    for route in all_routes():
        if route.kind != "api":
            continue
        for model in route.operation.models:
            source = model.__ninja_param_source__
            for name in _schema_text_fields(model):
                if source == "path" and (name == "operator_id" or route.method != "POST"):
                    continue  # look-ups of existing objects (see _LOOKUP)
                key = f"{route.api_name or route.route} {source}.{name}"
                if key not in REFUSED and key not in EXEMPT:
                    missing.append(key)
    assert not missing, f"API text fields in neither REFUSED nor EXEMPT: {missing}"


def test_it_keeps_the_tables_to_fields_that_exist(root, alice):
    console = {
        _key(cls.__name__, name)
        for cls in _project_forms()
        for name in _bound_fields(cls, root, alice)
    }
    api = {
        f"{r.api_name or r.route} {m.__ninja_param_source__}.{n}"
        for r in all_routes()
        if r.kind == "api"
        for m in r.operation.models
        for n in _schema_text_fields(m)
    }
    assert (set(REFUSED) | set(EXEMPT)) - console - api == set()


def test_it_echoes_an_unknown_role_id_with_the_secret_taken_out(ctx):
    secret = authkeys.new_secret()
    response = call(
        "POST", f"/v1/operators/{ctx['op']}/users/alice/roles", ctx["api"], {"roleId": secret}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "The role secret-[REDACTED] was not found."
