"""The console's password reset: the same service as POST /v1/auth/password_reset_token/*."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from security import password_reset
from security.forms_password_reset import ForgotPasswordForm, ResetPasswordForm

SENT = (
    "If that address belongs to a root account, a reset code is on its way. It works once, "
    "for a short time."
)


def _throttled(request: HttpRequest, template: str, form, exc) -> HttpResponse:
    form.add_error(None, str(exc))
    response = render(request, template, {"form": form}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


@require_http_methods(["GET", "POST"])
def forgot_password(request: HttpRequest) -> HttpResponse:
    """Ask for a reset code by mail; the answer is the same for every address."""
    template = "console/password_forgot.html"
    form = ForgotPasswordForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, template, {"form": form}, status=400)
        try:
            password_reset.issue(request, form.cleaned_data["email"])
        except password_reset.BadEmail as exc:
            form.add_error("email", str(exc))
            return render(request, template, {"form": form}, status=400)
        except password_reset.ResetThrottled as exc:
            return _throttled(request, template, form, exc)
        messages.info(request, SENT)
        return redirect("password-reset")
    return render(request, template, {"form": form})


@require_http_methods(["GET", "POST"])
def reset_password(request: HttpRequest) -> HttpResponse:
    """Set a new root password with the code from the mail."""
    template = "console/password_reset.html"
    form = ResetPasswordForm(request.POST or None)
    if request.method != "POST":
        return render(request, template, {"form": form})
    if not form.is_valid():
        return render(request, template, {"form": form}, status=400)
    data = form.cleaned_data
    try:
        password_reset.verify(request, data["token"], data["new_password"])
    except password_reset.ResetThrottled as exc:
        return _throttled(request, template, form, exc)
    except password_reset.BadToken:
        form.add_error("token", "This reset code is not valid (it may have been used).")
        return render(request, template, {"form": form}, status=400)
    except password_reset.ExpiredToken:
        form.add_error("token", "This reset code has expired. Ask for a new one.")
        return render(request, template, {"form": form}, status=404)
    except ValidationError as exc:
        form.add_error("new_password", exc)
        return render(request, template, {"form": form}, status=400)
    messages.success(request, "Your password was reset. Sign in with the new one.")
    return redirect("login")
