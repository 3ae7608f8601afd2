"""The Security page's Credentials tab: list, register, update and delete credential sets."""

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from console.forms import ConfirmForm, SearchForm
from console.htmx import close_dialog, render_dialog
from security import credential_schemas, credentials
from security.access import ConsoleRequest, WriteControls, console_action
from security.forms_credentials import CredentialCreateForm, CredentialUpdateForm
from security.models import CredentialSet

SETS_PER_PAGE = 25
# The sort control of a small screen (no column headers there): one label per order of
# credentials.SORTS.
SORT_CHOICES = (
    ("id", "Credentials ID, A to Z"),
    ("-id", "Credentials ID, Z to A"),
    ("-updated", "Recently updated first"),
    ("updated", "Least recently updated first"),
)


def _set_or_404(request: ConsoleRequest, credentials_id: str) -> CredentialSet:
    cs = credentials.get_credential_set(request.user.operator_id, credentials_id)
    if cs is None:
        raise Http404("No such credential set.")
    return cs


def _refused(response: HttpResponse, retry_after: int | None) -> HttpResponse:
    """Mark a dialog refused for the write rate as 429 with Retry-After."""
    if retry_after is not None:
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
    return response


def _quota(request: ConsoleRequest) -> tuple[int, int]:
    return credentials.count_for(request.user.operator_id), request.user.operator.credential_quota


@require_GET
@console_action("Credential:listCredentials")
def credential_list(request: ConsoleRequest) -> HttpResponse:
    search = SearchForm(request.GET)
    text = search.text()
    sort = request.GET.get("sort", "id")
    sort = sort if sort in credentials.SORTS else "id"
    page = Paginator(
        credentials.credential_sets(request.user.operator_id, sort, text), SETS_PER_PAGE
    ).get_page(request.GET.get("page"))
    users = credentials.groups_by_set(request.user.operator_id)
    rows = [(cs, credentials.expiry_state(cs), users.get(cs.pk, [])) for cs in page.object_list]
    controls = WriteControls(request)
    for cs in page.object_list:
        path = {"credentials_id": cs.credentials_id}
        cs.update_denied = controls.reason("credential-update", **path)
        cs.delete_denied = controls.reason("credential-delete", **path)
    count, quota = _quota(request)
    template = "security/credentials.html"
    if request.htmx and request.htmx.target == "credential-list":
        template += "#credential-list"
    context = {
        "page": page,
        "rows": rows,
        "sort": sort,
        "sort_choices": SORT_CHOICES,
        "query": urlencode({"q": text, "sort": sort} if text else {"sort": sort}),
        "search": search,
        "searched": text,
        "count": count,
        "quota": quota,
        "denied": controls.of(create="credential-create"),
        "at_limit": count >= quota,
        "quota_message": credentials.quota_message(quota),
        "tab": "credentials",
    }
    return render(request, template, context, status=400 if search.errors else 200)


@require_http_methods(["GET", "POST"])
@console_action("Credential:createCredential")
def credential_create(request: ConsoleRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    kind = (data or request.GET).get("type", "")
    choosing = data is not None and "choose_type" in data  # no-JS path: show the fields
    form = CredentialCreateForm(None if choosing else data, actor=request.user, kind=kind)
    if choosing:
        form.initial = {k: data.get(k, "") for k in ("credentials_id", "description", "type")}
    if data is not None and not choosing and form.is_valid():
        cs = form.save(request)
        if cs is not None:
            message = f"Credential set {cs.credentials_id} registered."
            return close_dialog(
                request, reverse("credentials"), "credentialsChanged", message=message
            )
    count, quota = _quota(request)
    context = {
        "form": form,
        "at_limit": count >= quota,
        "quota_message": credentials.quota_message(quota),
    }
    response = render_dialog(
        request,
        "security/partials/credential_create_dialog.html",
        context,
        status=400 if form.errors else 200,
    )
    return _refused(response, form.retry_after)


@require_GET
@console_action("Credential:createCredential")
def credential_fields(request: ConsoleRequest) -> HttpResponse:
    form = CredentialCreateForm(actor=request.user, kind=request.GET.get("type", ""))
    return render(request, "security/partials/credential_fields.html", {"form": form})


@require_http_methods(["GET", "POST"])
@console_action("Credential:updateCredential")
def credential_update(request: ConsoleRequest, credentials_id: str) -> HttpResponse:
    cs = _set_or_404(request, credentials_id)
    form = CredentialUpdateForm(request.POST or None, actor=request.user, instance=cs)
    if request.method == "POST" and form.is_valid() and form.save(request) is not None:
        message = f"Credential set {cs.credentials_id} updated."
        return close_dialog(request, reverse("credentials"), "credentialsChanged", message=message)
    response = render_dialog(
        request,
        "security/partials/credential_update_dialog.html",
        {"form": form, "subject": cs, "schema": credential_schemas.TYPES.get(cs.type)},
        status=400 if form.errors else 200,
    )
    return _refused(response, form.retry_after)


@require_http_methods(["GET", "POST"])
@console_action("Credential:deleteCredential")
def credential_delete(request: ConsoleRequest, credentials_id: str) -> HttpResponse:
    cs = _set_or_404(request, credentials_id)
    error, retry_after = "", None
    if request.method == "POST" and ConfirmForm(request.POST).is_valid():
        try:
            credentials.delete_credential_set(request, request.user, cs)
        except credentials.WriteRateLimited as exc:
            error, retry_after = str(exc), exc.retry_after
        except credentials.CredentialInUse as exc:
            error = str(exc)
        else:
            message = f"Credential set {cs.credentials_id} deleted."
            return close_dialog(
                request, reverse("credentials"), "credentialsChanged", message=message
            )
    response = render_dialog(
        request,
        "security/partials/credential_delete_dialog.html",
        {"subject": cs, "used_by": credentials.groups_using(cs), "error": error},
        status=409 if error else 200,
    )
    return _refused(response, retry_after)
