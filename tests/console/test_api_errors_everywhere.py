"""Under /v1 every error is JSON `{"code", "message"}`, with DEBUG on too (issue 9 item 13).

With DEBUG on, Django does not use handler404/handler500: an unknown path got the HTML
technical 404 page (which lists every route) and an exception outside a handler the HTML
traceback page. override_settings(DEBUG=True) is faithful here: Django reads DEBUG when it
turns an exception into a response. One test also starts a real process with DEBUG=true.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.test import Client, override_settings
from django.urls import path

from console import urls as root_urls
from tests.api.harness import call


def _boom(request):
    raise RuntimeError("Canary-Secret-In-Exception-7")


urlpatterns = [*root_urls.urlpatterns, path("v1/boom", _boom)]
handler404 = root_urls.handler404
handler500 = root_urls.handler500

MODES = pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])


def _flat_json(response, status: int) -> dict:
    assert response.status_code == status, response.content[:200]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == f"LKY0{status}"
    return body


@MODES
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("where", ["/v1/no/such/thing", "/v1/operators", "/v1/auth/nope"])
def test_it_answers_json_404_for_an_unknown_api_path(db, debug, method, where):
    with override_settings(DEBUG=debug):
        response = Client().generic(method, where)
    _flat_json(response, 404)
    assert b"security/users" not in response.content  # no list of routes


@MODES
@pytest.mark.urls("tests.console.test_api_errors_everywhere")
def test_it_answers_json_500_for_an_exception_outside_the_api_handlers(db, debug):
    with override_settings(DEBUG=debug):
        response = Client(raise_request_exception=False).get("/v1/boom")
    assert _flat_json(response, 500) == {"code": "LKY0500", "message": "Internal error."}
    assert b"Canary-Secret" not in response.content


@MODES
def test_it_answers_json_500_for_an_exception_in_an_api_handler(root_api, debug):
    with (
        override_settings(DEBUG=debug),
        mock.patch("security.users.sam_users", side_effect=RuntimeError("Canary-Secret-8")),
    ):
        response = call("GET", f"/v1/operators/{_operator(root_api)}/users", root_api)
    _flat_json(response, 500)
    assert b"Canary-Secret" not in response.content


@MODES
def test_it_answers_json_400_for_a_host_it_does_not_serve(db, debug):
    with override_settings(DEBUG=debug):
        response = Client(raise_request_exception=False).get(
            "/v1/operators/OP0000000001", HTTP_HOST="evil.example"
        )
    _flat_json(response, 400)
    assert b"ALLOWED_HOSTS" not in response.content


@MODES
def test_it_keeps_the_headers_of_the_error_it_replaces(root_api, debug):
    with override_settings(DEBUG=debug):
        response = call("PATCH", "/v1/auth", {})
    _flat_json(response, 405)
    assert response["Allow"] == "POST"
    assert response["X-Request-Id"]


def test_it_leaves_the_consoles_debug_pages_alone(db):
    # Issue 14 owns the console in development mode; only /v1 is JSON.
    with override_settings(DEBUG=True):
        response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def _operator(headers: dict) -> str:
    from accounts.models import ApiSession

    return ApiSession.objects.get(api_key=headers["HTTP_X_SORACOM_API_KEY"]).operator_id


_PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client(raise_request_exception=False)
out = {}
for path in ("/v1/no/such/thing", "/v1/"):
    r = client.get(path)
    out[path] = [r.status_code, r["Content-Type"], r.content.decode()[:300]]
print(json.dumps(out))
"""


def test_it_answers_json_404_in_a_real_debug_process(tmp_path):
    """The development settings themselves (DEBUG=true, what `make run` serves)."""
    root = Path(__file__).resolve().parents[2]
    keys = root / ".latchkey-dev-secrets.json"
    existed = keys.exists()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LATCHKEY_"))},
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "console.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        "ALLOWED_HOSTS": "testserver",
    }
    env.pop("SECRET_KEY", None)
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    finally:
        if not existed:
            keys.unlink(missing_ok=True)
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    for status, content_type, body in answers.values():
        assert (status, content_type) == (404, "application/json")
        assert json.loads(body) == {"code": "LKY0404", "message": "Not found."}
