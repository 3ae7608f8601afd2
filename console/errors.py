"""Error pages: JSON under /v1 (clients parse it), a plain page elsewhere; never a trace."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader

from console.htmx import in_dialog_host


def _api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/v1/")


def wants_dialog(request: HttpRequest) -> bool:
    """A console request made by htmx: its errors open as a dialog, never as a page."""
    return bool(getattr(request, "htmx", False)) and not _api(request)


def not_found_dialog(request: HttpRequest) -> HttpResponse:
    """The "Not found" dialog, opened in the dialog host whatever the request targeted."""
    return in_dialog_host(render(request, "console/not_found_dialog.html", status=404))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"code": "LKY0404", "message": "Not found."}, status=404)
    if wants_dialog(request):
        return not_found_dialog(request)
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
