"""A password written anywhere ends the API sessions it opened (docs/sessions.md).

users.set_password is the product's own path; `manage.py changepassword`, `createsuperuser`
and a shell write the password through the model, and must end the same sessions.
"""

from django.test import Client

from accounts.models import Principal
from security import authkeys
from tests.conftest import ROOT_PASSWORD, api_login

NEW_PASSWORD = "a-New-Passw0rd-for-root"


def _works(headers: dict, operator_id: str) -> bool:
    return Client().get(f"/v1/operators/{operator_id}", **headers).status_code == 200


def _headers(data: dict) -> dict:
    return {"HTTP_X_SORACOM_API_KEY": data["apiKey"], "HTTP_X_SORACOM_TOKEN": data["token"]}


def test_it_ends_password_sessions_when_the_model_writes_the_password(root):
    session = _headers(api_login(Client(), email=root.email, password=ROOT_PASSWORD))
    assert _works(session, root.operator_id)
    changed = Principal.objects.get(pk=root.pk)  # what changepassword does
    changed.set_password(NEW_PASSWORD)
    changed.save()
    assert not _works(session, root.operator_id)


def test_it_keeps_authkey_sessions_when_the_model_writes_the_password(root):
    key, secret = authkeys.generate(None, root, root)
    session = _headers(api_login(Client(), authKeyId=key.key_id, authKey=secret))
    changed = Principal.objects.get(pk=root.pk)
    changed.set_password(NEW_PASSWORD)
    changed.save()
    assert _works(session, root.operator_id)


def test_it_leaves_password_sessions_alone_when_something_else_is_saved(root):
    session = _headers(api_login(Client(), email=root.email, password=ROOT_PASSWORD))
    changed = Principal.objects.get(pk=root.pk)
    changed.description = "renamed"
    changed.save()
    assert _works(session, root.operator_id)
