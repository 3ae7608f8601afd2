"""Small helpers for the HTMX dialog pattern (see STYLE.md, HTMX dialogs)."""

import json

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render


def render_dialog(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render a dialog partial for htmx, or the same form as a full page without JavaScript."""
    if request.htmx:
        return render(request, template, context, status=status)
    return render(
        request, "console/dialog_page.html", {**context, "dialog": template}, status=status
    )


def close_dialog(request, redirect_to: str, *events: str) -> HttpResponse:
    """Close the dialog and fire domain events for htmx; redirect a plain form post."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Trigger"] = json.dumps({**{e: True for e in events}, "closeDialog": True})
        return response
    return HttpResponseRedirect(redirect_to)


def navigate(request, to: str) -> HttpResponse:
    """Send the browser to another page, whether or not htmx made the request."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = to
        return response
    return HttpResponseRedirect(to)
