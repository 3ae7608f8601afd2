"""A first API call for a new AuthKey: `/v1/auth` with it, then one call its holder may make.

The follow-up is chosen from the OpenAPI document (security/api_openapi.py), not from a
list: the first GET whose path the holder fills by itself (its operator, its own user
name) and that its permissions allow now. A SAM user allowed nothing gets the call on
itself and `allowed_anything=False`, so that the dialog can say why it will answer 403.
"""

from dataclasses import dataclass

from django.http import HttpRequest

from accounts import policy
from accounts.context import CallContext
from accounts.models import Principal
from console.net import client_ip
from security import api_openapi

FILLABLE = frozenset({"operator_id", "user_name"})


@dataclass(frozen=True)
class FirstCalls:
    base: str  # the API's absolute base URL, e.g. https://latchkey.example/v1
    follow_path: str  # the follow-up call's path under `base`
    follow_api: str  # its API name
    allowed_anything: bool


def _candidates(holder: Principal) -> list[tuple[str, str, dict]]:
    found = []
    for op in api_openapi.operations(api_openapi.the_api()):
        params = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        if op["method"] != "GET" or op["public"] or not params <= FILLABLE:
            continue
        if "user_name" in params and not holder.is_sam:
            continue
        values = {"operator_id": holder.operator_id or "", "user_name": holder.user_name or ""}
        path = op["path"].format(**values)
        found.append((op["api_name"], path, {k: values[k] for k in params}))
    return found


def for_holder(request: HttpRequest, holder: Principal) -> FirstCalls:
    """Return the calls to show beside a new AuthKey of `holder`."""
    base = request.build_absolute_uri("/v1")
    candidates = _candidates(holder)
    allowed_anything = policy.allows_anything(holder)
    chosen = None
    for api, path, path_vars in candidates if allowed_anything else ():
        ctx = CallContext(holder, api, client_ip(request), "GET", path_vars)
        if policy.is_allowed(ctx):
            chosen = (api, path)
            break
    if chosen is None:  # nothing allowed: the call on itself, which the dialog explains
        own = [c for c in candidates if "user_name" in c[2]] or candidates
        chosen = (own[0][0], own[0][1])
    return FirstCalls(base, chosen[1], chosen[0], allowed_anything)
