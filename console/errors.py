"""Error pages: JSON under /v1 (clients parse it), a plain page elsewhere; never a trace."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader


def _api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/v1/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"code": "LKY0404", "message": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return JsonResponse({"code": "LKY0500", "message": "Internal error."}, status=500)
    # No context processors: the failure may be in them.
    return HttpResponse(loader.get_template("500.html").render(), status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"code": "LKY0400", "message": "Bad request."}, status=400)
    return HttpResponse(loader.get_template("400.html").render(), status=400)
