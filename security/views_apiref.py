"""The API's public description: /v1/openapi.json, the API reference and the API names pages.

All three are rendered on the server from the OpenAPI document of the one JSON API instance
(the root URLs hand it in as the `api` keyword), so that they cannot drift from the routes.
They hold no tenant data and need no permission; a signed-in principal sees its own
operator ID in the examples. No script and no CDN: the strict CSP holds.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from ninja import NinjaAPI

from security import api_catalog, api_openapi

EXAMPLE_OPERATOR = "OP0000000000"


def openapi_json(request: HttpRequest, api: NinjaAPI) -> HttpResponse:
    """Return the OpenAPI 3.1 document of /v1."""
    return JsonResponse(api_openapi.document(api), json_dumps_params={"indent": 1})


def _operator_id(request: HttpRequest) -> str:
    user = request.user
    return getattr(user, "operator_id", None) or EXAMPLE_OPERATOR


def _groups(api: NinjaAPI) -> list[dict]:
    doc = api_openapi.document(api)
    descriptions = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    groups: dict[str, list[dict]] = {}
    for op in api_openapi.operations(api):
        groups.setdefault(op["tag"], []).append(op)
    return [
        {"tag": tag, "description": descriptions.get(tag, ""), "operations": ops}
        for tag, ops in sorted(groups.items())
    ]


def api_reference(request: HttpRequest, api: NinjaAPI) -> HttpResponse:
    """Render the API reference: how to authenticate, then every operation by tag."""
    base = request.build_absolute_uri("/v1").rstrip("/")
    context = {
        "base": base,
        "operator_id": _operator_id(request),
        "groups": _groups(api),
        "openapi_url": reverse("openapi"),
        "tab_api": "reference",
    }
    return render(request, "security/api_reference.html", context)


def api_names(request: HttpRequest, api: NinjaAPI) -> HttpResponse:
    """Render every API name a permission statement can use, with what it does."""
    context = {"names": api_catalog.catalog(api), "tab_api": "names"}
    return render(request, "security/api_names.html", context)
