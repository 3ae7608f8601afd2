"""The session store refuses keys Django would not issue (console/sessions.py)."""

import pytest
from django.conf import settings
from django.test import Client


@pytest.mark.parametrize("path", ["/login/", "/security/users/", "/staff/login/", "/admin/login/"])
def test_it_answers_a_session_cookie_holding_nul_without_a_500(db, path):
    # A quoted cookie value may carry octal escapes ("\000"); Django unquotes them, and
    # the session look-up sends the NUL to PostgreSQL, which refuses it: every page, signed
    # in or not, answers 500 (route fuzz sends hostile paths, queries and bodies, no cookies).
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = "abcdefgh\x00ijklmnop"
    response = client.get(path)
    assert response.status_code < 500
