"""Path converters: one validation of identifiers in URL paths, for the console, the staff
pages and the JSON API alike (DESIGN.md, "Identifiers in paths").

A path value that cannot be an identifier (NUL, a lone surrogate, 10 kB, `..`, spaces,
non-ASCII) never reaches a view, a query or the database:

- console and staff pages (`name`, `opid`, `keyid`): it matches no route, so the page
  answers 404 exactly like a missing object;
- the JSON API (`v1name`, `v1samuser`, `v1opid`, `v1keyid`): the route matches and the
  handler receives "" instead, which no identifier equals, so every handler answers what it
  answers for a missing object (the contract's "SAM User not found.", "AuthKey not found."
  ... as JSON) and a create answers 400 naming the rule, as the contract says. The route
  still matches so that a POST that names a new user keeps its 400, not a bare 404.

Registered once, when the accounts app is ready (accounts/apps.py), before any URL
configuration is read.
"""

import re

from django.urls import register_converter

from accounts.identifiers import KEY_ID_PATTERN, NAME_PATTERN, OPERATOR_ID_PATTERN

# What an API path segment may be before it is checked: anything but "/", bounded.
_SEGMENT = r"[^/]{1,4096}"
INVALID = ""  # what an API handler receives for a value that cannot be an identifier


class _Strict:
    """Match only a well-formed identifier (console and staff pages)."""

    regex = ""

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class _Checked:
    """Match any segment; hand the view the identifier, or INVALID when it cannot be one."""

    regex = _SEGMENT
    identifier = re.compile("")

    def to_python(self, value: str) -> str:
        return value if self.identifier.fullmatch(value) else INVALID

    def to_url(self, value: str) -> str:
        return value


def _strict(pattern: str) -> type:
    return type("StrictConverter", (_Strict,), {"regex": pattern})


def _checked(pattern: str, segment: str = _SEGMENT) -> type:
    return type(
        "CheckedConverter",
        (_Checked,),
        {"regex": segment, "identifier": re.compile(pattern, re.ASCII)},
    )


CONVERTERS = {
    "name": _strict(NAME_PATTERN),
    "opid": _strict(OPERATOR_ID_PATTERN),
    "keyid": _strict(KEY_ID_PATTERN),
    "v1name": _checked(NAME_PATTERN),
    # `users/default_permissions` has API routes of its own (soracom-api.md §10.7).
    "v1samuser": _checked(NAME_PATTERN, rf"(?!default_permissions(?:/|\Z)){_SEGMENT}"),
    "v1opid": _checked(OPERATOR_ID_PATTERN),
    "v1keyid": _checked(KEY_ID_PATTERN),
}


def register() -> None:
    for name, converter in CONVERTERS.items():
        register_converter(converter, name)
