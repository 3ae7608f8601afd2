"""One view: a small JSON document, no database, no authentication."""

from django.http import HttpRequest, JsonResponse
from django.urls import path


def floor(request: HttpRequest) -> JsonResponse:
    """Return a small JSON list, like the authenticated listings measured beside it."""
    return JsonResponse([{"id": "floor", "status": "active"}], safe=False)


urlpatterns = [path("floor", floor)]
