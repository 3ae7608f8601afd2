"""A method a /v1 path does not serve: django-ninja's own 405, made JSON by the kit's middleware.

No library internal is patched (issue 10, item 4): ninja answers with its text 405 and the
Allow header, and ApiJsonErrorsMiddleware turns the body into `{"code", "message"}`.
"""

import json

from django.http import HttpResponseNotAllowed
from django.test import RequestFactory
from ninja.operation import PathView

from console.middleware import ApiJsonErrorsMiddleware


def _through_middleware(path: str, response):
    return ApiJsonErrorsMiddleware(lambda request: response)(RequestFactory().patch(path))


def test_it_answers_ninjas_text_405_as_json():
    text = HttpResponseNotAllowed(["PUT", "GET"], content=b"Method not allowed")
    response = _through_middleware("/v1/operators/OP0000000001/users/alice", text)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"code": "LKY0405", "message": "Method not allowed."}


def test_it_keeps_the_allow_header_sorted():
    text = HttpResponseNotAllowed(["PUT", "GET", "DELETE", "POST"])
    response = _through_middleware("/v1/operators/OP0000000001/users/alice", text)
    assert response["Allow"] == "DELETE, GET, POST, PUT"


def test_it_leaves_a_console_405_alone():
    text = HttpResponseNotAllowed(["POST"], content=b"Method not allowed")
    response = _through_middleware("/security/authkeys/generate", text)
    assert response is text


def test_it_leaves_ninjas_method_not_allowed_unpatched():
    assert PathView._not_allowed.__module__ == "ninja.operation"
    assert PathView._not_allowed.__qualname__ == "PathView._not_allowed"
