"""Small helpers for the HTMX dialog pattern (see STYLE.md, HTMX dialogs) and its feedback.

Every console action says what it did through `announce` (directly, or through
`close_dialog` / `navigate`): an htmx request gets an `announce` event in `HX-Trigger`
(console.js shows it as a toast in the status region of base.html), a plain form post a
Django message, which the next full page renders into the same region.
"""

import json

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render

ANNOUNCE = "announce"  # the HX-Trigger event console.js turns into a toast


def render_dialog(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    """Render a dialog partial for htmx, or the same form as a full page without JavaScript."""
    if request.htmx:
        return render(request, template, context, status=status)
    return render(
        request, "console/dialog_page.html", {**context, "dialog": template}, status=status
    )


DIALOG_HOST = "#dialog-host"  # base.html: where every console dialog opens


def in_dialog_host(response: HttpResponse) -> HttpResponse:
    """Make htmx open `response` (a dialog) in the dialog host, whatever the request targeted.

    A refusal or a "not found" can answer a list refresh or a row's button as well as a
    dialog: swapped into its own target, the dialog would replace the list and take it away
    when closed.
    """
    response["HX-Retarget"] = DIALOG_HOST
    response["HX-Reswap"] = "innerHTML"
    return response


def _add_triggers(response: HttpResponse, events: dict) -> None:
    found = response.get("HX-Trigger", "")
    triggers = (
        json.loads(found) if found.startswith("{") else {n: True for n in found.split(",") if n}
    )
    response["HX-Trigger"] = json.dumps({**triggers, **events})


def announce(request, response: HttpResponse, message: str) -> HttpResponse:
    """Tell the user what `response` did: a toast after htmx swaps it, else a Django message.

    An htmx answer that sends the browser elsewhere (HX-Redirect) is followed by a full page
    load, so it uses the message, as a plain form post does. Never put a secret in `message`.
    """
    if request.htmx and not response.has_header("HX-Redirect"):
        _add_triggers(response, {ANNOUNCE: {"message": message}})
    else:
        messages.success(request, message)
    return response


def close_dialog(request, redirect_to: str, *events: str, message: str) -> HttpResponse:
    """Close the dialog, say what happened and fire domain events for htmx; redirect a form post."""
    if request.htmx:
        response = HttpResponse(status=204)
        _add_triggers(response, {**{e: True for e in events}, "closeDialog": True})
    else:
        response = HttpResponseRedirect(redirect_to)
    return announce(request, response, message)


def navigate(request, to: str, *, message: str) -> HttpResponse:
    """Send the browser to another page, whether or not htmx made the request, and say why."""
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = to
    else:
        response = HttpResponseRedirect(to)
    return announce(request, response, message)
