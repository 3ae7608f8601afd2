"""console/htmx.py feedback (issue 14): one helper says what an action did, in either mode."""

import json

from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from console.htmx import close_dialog, navigate
from console.templatetags.console_scripts import htmx_scripts


def _request(htmx: bool):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    request = RequestFactory().post("/security/users/new", **headers)
    request.htmx = HtmxDetails(request)
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_close_dialog_announces_in_hx_trigger_for_htmx_and_adds_no_message():
    request = _request(htmx=True)
    response = close_dialog(
        request, "/security/users/", "usersChanged", message="User bob created."
    )
    assert response.status_code == 204
    assert json.loads(response["HX-Trigger"]) == {
        "usersChanged": True,
        "closeDialog": True,
        "announce": {"message": "User bob created."},
    }
    assert list(get_messages(request)) == []


def test_close_dialog_without_javascript_redirects_with_a_message():
    request = _request(htmx=False)
    response = close_dialog(
        request, "/security/users/", "usersChanged", message="User bob created."
    )
    assert response.status_code == 302 and "HX-Trigger" not in response
    assert [str(m) for m in get_messages(request)] == ["User bob created."]


def test_navigate_for_htmx_leaves_the_message_for_the_next_page():
    request = _request(htmx=True)
    response = navigate(request, "/security/users/", message="User bob deleted.")
    assert response["HX-Redirect"] == "/security/users/"
    assert "HX-Trigger" not in response
    assert [str(m) for m in get_messages(request)] == ["User bob deleted."]


def test_development_mode_loads_only_the_5xx_handler_not_django_htmx_debug(settings):
    settings.DEBUG = True
    html = htmx_scripts({"csp_nonce": "n"})
    assert "htmx-2.min.js" in html and "js/dev-errors.js" in html
    assert "django-htmx.js" not in html


def test_production_loads_htmx_alone(settings):
    settings.DEBUG = False
    html = htmx_scripts({"csp_nonce": "n"})
    assert "htmx-2.min.js" in html and "dev-errors" not in html
