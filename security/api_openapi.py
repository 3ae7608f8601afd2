"""The OpenAPI 3.1 document of /v1, generated from the registered routes (GET /v1/openapi.json).

django-ninja walks the routers; each operation's operationId comes in as its API name
(`Tag:operationId`, from `@operation`), which is split here into Soracom's `operationId`
and `tags` (soracom-api.md §4: the API name is `<tag>:<operationId>`). Success answers come
from security/api_schemas.py, errors are the flat `{code, message}` body, and the security
is Soracom's pair of headers or a Bearer token. Nothing here lists operations by hand: an
operation added to a router is in the document at the next start.
"""

from functools import cache
from http.client import responses as reasons
from typing import Any

from django.urls import resolve, reverse
from ninja import NinjaAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from accounts import policy
from security import api_schemas

REF = "#/components/schemas/{model}"
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
SECURITY_SCHEMES = {
    "api_key": {"type": "apiKey", "in": "header", "name": "X-Soracom-API-Key"},
    "api_token": {"type": "apiKey", "in": "header", "name": "X-Soracom-Token"},
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
}
# Both headers together, or the Bearer token alone (DESIGN.md "API sessions and tokens").
SECURITY = [{"api_key": [], "api_token": []}, {"bearer": []}]
TAG_DESCRIPTIONS = {
    "Auth": "Exchange credentials for an API key and token; end a session.",
    "Operator": "The root account: its AuthKeys, password, tokens.",
    "User": "SAM users, their passwords, AuthKeys and permissions.",
    "Role": "Roles and their attachment to SAM users.",
    "Credential": "Credential sets (secrets are never returned).",
    "AuditLog": "The audit log of API calls and console actions.",
}


def the_api() -> NinjaAPI:
    """Return the JSON API instance the root URLs serve (handed to /v1/openapi.json)."""
    return resolve(reverse("openapi")).kwargs["api"]


def api_name_of(view: Any) -> str | None:
    """Return an operation's API name (`@operation`, or `@unauthenticated`), or None."""
    return getattr(view, "api_name", None) or getattr(view, "public_api_name", None)


def _success_schema(success: api_schemas.Success) -> dict:
    ref = {"$ref": REF.format(model=success.body.__name__)}
    return {"type": "array", "items": ref} if success.many else ref


def _responses(api_name: str, public: bool, has_body: bool) -> dict:
    found: dict[str, dict] = {}
    success = api_schemas.SUCCESS.get(api_name)
    if success is not None:
        answer: dict = {"description": reasons[success.status]}
        if success.body is not None:
            answer["content"] = {"application/json": {"schema": _success_schema(success)}}
        if success.headers:
            answer["headers"] = {name: api_schemas.HEADERS[name] for name in success.headers}
        found[str(success.status)] = answer
    errors = [400, 401] + ([] if public else [403, 404]) + ([413] if has_body else []) + [429]
    for status in errors:
        found[str(status)] = {
            "description": reasons[status],
            "content": {"application/json": {"schema": ERROR_REF}},
        }
    return found


def _components() -> dict:
    models: list[type[BaseModel]] = [api_schemas.ErrorBody]
    models += [s.body for s in api_schemas.SUCCESS.values() if s.body is not None]
    unique = list(dict.fromkeys(models))
    _, schemas = models_json_schema([(m, "serialization") for m in unique], ref_template=REF)
    return schemas.get("$defs", {})


def _describe(details: dict, api_name: str) -> None:
    tag, _, operation_id = api_name.partition(":")
    public = "security" not in details  # TokenAuth's marker (security/api_access.py)
    details["operationId"] = operation_id
    details["tags"] = [tag]
    details["x-latchkey-api-name"] = api_name
    if policy.is_root_only(api_name):
        details["x-latchkey-root-only"] = True
    # The handler's docstring: its first line is the summary, the rest the description.
    first = details.get("description", "").strip().split("\n\n")[0]
    details["summary"] = " ".join(first.split()) or details.get("summary") or operation_id
    query = api_schemas.QUERY.get(api_name, [])
    details["parameters"] = details.get("parameters", []) + [
        {"in": "query", "required": False, **p} for p in query
    ]
    details["responses"] = _responses(api_name, public, "requestBody" in details)
    if not public:
        details["security"] = SECURITY


@cache
def document(api: NinjaAPI) -> dict:
    """Return the OpenAPI 3.1 document of `api` (generated once per process)."""
    schema = dict(api.get_openapi_schema(path_prefix=""))
    for methods in schema["paths"].values():
        for details in methods.values():
            name = details["operationId"]
            if ":" in name:
                _describe(details, name)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(_components())
    components["securitySchemes"] = SECURITY_SCHEMES  # in place of TokenAuth's marker
    schema["servers"] = [{"url": "/v1"}]
    used = {t for m in schema["paths"].values() for d in m.values() for t in d.get("tags", [])}
    schema["tags"] = [
        {"name": tag, **({"description": TAG_DESCRIPTIONS[tag]} if tag in TAG_DESCRIPTIONS else {})}
        for tag in sorted(used)
    ]
    schema["info"] = {
        "title": "Latchkey API",
        "version": str(api.version),
        "summary": "Soracom-compatible account-security API: AuthKeys, SAM users, roles.",
    }
    return schema


@cache
def _kinds(api: NinjaAPI) -> dict[str, str]:
    found: dict[str, str] = {}
    for path, methods in document(api)["paths"].items():
        for details in methods.values():
            if "x-latchkey-api-name" in details:
                found.setdefault(details["x-latchkey-api-name"], "/v1" + path)
    return found


def api_kinds() -> dict[str, str]:
    """Return API name -> Soracom's apiKind, the path template (`/v1/operators/{operator_id}`)."""
    return _kinds(the_api())


def _type_of(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type_of(s) for s in schema["anyOf"] if s.get("type") != "null")
    if schema.get("type") == "array":
        return f"[{_type_of(schema.get('items', {}))}]"
    return str(schema.get("type", "any"))


def _fields(doc: dict, schema: dict | None) -> tuple[str, list[dict]]:
    """Return (the schema's name, its fields: name, type, required) for the reference page."""
    if not schema:
        return "", []
    many = schema.get("type") == "array"
    target = schema.get("items", {}) if many else schema
    if "anyOf" in target:
        target = next((s for s in target["anyOf"] if "$ref" in s), target)
    name = _type_of(target)
    if "$ref" in target:
        target = doc["components"]["schemas"].get(name, {})
    required = set(target.get("required", []))
    fields = [
        {"name": key, "type": _type_of(value), "required": key in required}
        for key, value in target.get("properties", {}).items()
    ]
    return (f"[{name}]" if many else name), fields


def _success(doc: dict, details: dict) -> tuple[str, str, list[dict]]:
    for status, answer in details.get("responses", {}).items():
        if status.startswith("2"):
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            return (status, *_fields(doc, schema))
    return "", "", []


def operations(api: NinjaAPI) -> list[dict]:
    """Return every operation of the document: method, path, API name, summary, tag."""
    found = []
    doc = document(api)
    for path, methods in doc["paths"].items():
        for method, details in methods.items():
            body = details.get("requestBody", {}).get("content", {}).get("application/json", {})
            body_name, body_fields = _fields(doc, body.get("schema"))
            status, answer_name, answer_fields = _success(doc, details)
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "api_name": details.get("x-latchkey-api-name", ""),
                    "operation_id": details["operationId"],
                    "tag": (details.get("tags") or [""])[0],
                    "summary": details.get("summary", ""),
                    "description": details.get("description", ""),
                    "public": "security" not in details,
                    "root_only": details.get("x-latchkey-root-only", False),
                    "parameters": [
                        {"name": p["name"], "in": p["in"], "type": _type_of(p["schema"])}
                        for p in details.get("parameters", [])
                    ],
                    "body": body_name,
                    "body_fields": body_fields,
                    "status": status,
                    "answer": answer_name,
                    "answer_fields": answer_fields,
                }
            )
    return found
