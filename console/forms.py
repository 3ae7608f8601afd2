"""Forms of the kit that know nothing of the product."""

from django import forms

from console.fields import FreeTextField


class ConfirmForm(forms.Form):
    """An empty form: the POST itself, with its CSRF token, is the confirmation."""


class SearchForm(forms.Form):
    """The search box of a list: a short text, matched as a substring, never stored.

    A pasted secret is refused (and never put back into the page); an invalid search
    filters nothing.
    """

    MAX_LENGTH = 100

    q = FreeTextField(secret_label="search", required=False, max_length=MAX_LENGTH, label="Search")

    def clean_q(self) -> str:
        text = self.cleaned_data["q"].strip()
        if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in text):
            raise forms.ValidationError("Control characters are not allowed here.")
        return text

    def text(self) -> str:
        """Return the valid search text, or "" when there is none (or it was refused)."""
        return self.cleaned_data.get("q", "") if self.is_valid() else ""
