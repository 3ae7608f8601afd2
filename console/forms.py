"""Forms of the kit that know nothing of the product."""

from django import forms


class ConfirmForm(forms.Form):
    """An empty form: the POST itself, with its CSRF token, is the confirmation."""
