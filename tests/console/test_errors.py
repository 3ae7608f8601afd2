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
