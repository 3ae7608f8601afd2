import pytest
from django.test import Client
from django.urls import path

from console import urls as root_urls


def _boom(request):
    raise RuntimeError("Canary-Secret-In-Exception-7")


urlpatterns = [*root_urls.urlpatterns, path("v1/boom", _boom), path("boom", _boom)]
handler404 = root_urls.handler404
handler500 = root_urls.handler500


def test_it_answers_json_404_for_unknown_api_paths(db):
    response = Client().get("/v1/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"code": "LKY0404", "message": "Not found."}


def test_it_answers_an_html_404_for_unknown_pages(db):
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert b"Not found" in response.content


@pytest.mark.urls("tests.console.test_errors")
def test_it_hides_the_exception_from_api_clients(db):
    response = Client(raise_request_exception=False).get("/v1/boom")
    assert response.status_code == 500
    assert response.json() == {"code": "LKY0500", "message": "Internal error."}


@pytest.mark.urls("tests.console.test_errors")
def test_it_hides_the_exception_from_browsers(db):
    response = Client(raise_request_exception=False).get("/boom")
    assert response.status_code == 500
    assert b"Canary-Secret" not in response.content
    assert b"Traceback" not in response.content


# An htmx request answered 404 (the key or user was removed in another tab): a "Not found"
# dialog in the dialog host, in production and in development (DEBUG's technical 404 page
# would otherwise land inside the list or dialog that made the request).


@pytest.mark.parametrize("debug", [False, True], ids=["production", "development"])
def test_an_htmx_404_is_a_not_found_dialog_in_the_dialog_host(root_client, settings, debug):
    settings.DEBUG = debug
    response = root_client.get("/security/users/nobody-here/", HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    assert response["HX-Retarget"] == "#dialog-host"
    assert response["HX-Reswap"] == "innerHTML"
    body = response.content.decode()
    assert body.startswith('<dialog class="dialog" data-dialog')
    assert "<html" not in body


def test_a_404_without_htmx_stays_a_page(root_client):
    response = root_client.get("/security/users/nobody-here/")
    assert response.status_code == 404
    assert not response.has_header("HX-Retarget")
    assert b"<html" in response.content


def test_an_api_404_stays_json_even_when_htmx_asks(db):
    response = Client().get("/v1/no/such/thing", HTTP_HX_REQUEST="true")
    assert response.json() == {"code": "LKY0404", "message": "Not found."}
    assert not response.has_header("HX-Retarget")


def test_a_refusal_to_htmx_opens_in_the_dialog_host(alice_client):
    response = alice_client.get("/security/users/new", HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#dialog-host"
    assert b"Not allowed" in response.content
