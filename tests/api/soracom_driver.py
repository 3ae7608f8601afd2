"""Drive the published `soracom-api` 0.0.2 Python client (runs in .venv-soracom, not Django).

Reads one JSON document on stdin: {"host": "http://127.0.0.1:PORT/v1", "steps": [...]}.
Each step is {"api": "UserApi", "method": "list_users", "kwargs": {...}} where a kwarg value
{"$model": "CreateUserRequest", "fields": {...}} builds that request model, and "$last:key"
strings stand for fields of the last successful `auth` step (apiKey, token, operatorId).
A step {"auth": {...AuthRequest fields...}} calls AuthApi.auth and makes later calls use the
returned apiKey + token, exactly as an application would. Writes one JSON result per step:
{"ok": true, "value": <the client's deserialized answer as a dict>} or
{"ok": false, "exception": "NotFoundException", "status": 404, "body": {...}}.

Operations the 0.0.2 client has no method for (switch user, trust policies) go through its
own generic `ApiClient.call_api` with its own auth settings: a step {"raw": {"method":
"POST", "path": "/auth/switch_user", "body": {...}}}. A step with "adopt": true makes later
calls use the apiKey + token it returned (switch user), "adopt_token": true only the token
(generateAuthToken), exactly as an application would.
"""

import importlib
import json
import re
import sys

import soracom_api
from soracom_api import models
from soracom_api.api.auth_api import AuthApi
from soracom_api.exceptions import ApiException, OpenApiException


def _api_class(name: str):
    """Return soracom_api.api.<snake_name>.<Name>, e.g. UserApi from soracom_api.api.user_api."""
    module = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return getattr(importlib.import_module(f"soracom_api.api.{module}"), name)


def _value(result):
    if result is None:
        return None
    if isinstance(result, list):
        return [_value(item) for item in result]
    if hasattr(result, "to_dict"):
        return result.to_dict()
    return result


def _resolve(value, session: dict):
    if isinstance(value, dict) and "$model" in value:
        fields = {k: _resolve(v, session) for k, v in value.get("fields", {}).items()}
        return getattr(models, value["$model"])(**fields)
    if isinstance(value, str) and value.startswith("$last:"):
        return session[value[len("$last:") :]]
    return value


def main() -> None:
    plan = json.load(sys.stdin)
    configuration = soracom_api.Configuration(host=plan["host"])
    client = soracom_api.ApiClient(configuration)
    session: dict = {}
    results = []
    for step in plan["steps"]:
        try:
            if "auth" in step:
                request = models.AuthRequest(**step["auth"])
                answer = AuthApi(client).auth(request)
                session = {
                    "apiKey": answer.api_key,
                    "token": answer.token,
                    "operatorId": answer.operator_id,
                }
                configuration.api_key["api_key"] = answer.api_key
                configuration.api_key["api_token"] = answer.token
                results.append({"ok": True, "value": _value(answer)})
                continue
            if "raw" in step:
                raw = step["raw"]
                answer = client.call_api(
                    raw["path"].replace("{operator_id}", session.get("operatorId", "")),
                    raw["method"],
                    header_params={
                        "Content-Type": "application/json",
                        "Accept": "application/json",
                    },
                    body=raw.get("body"),
                    response_type=(dict,) if raw.get("answers", True) else None,
                    auth_settings=["api_key", "api_token"],
                    _return_http_data_only=True,
                )
            else:
                api = _api_class(step["api"])(client)
                kwargs = {k: _resolve(v, session) for k, v in step.get("kwargs", {}).items()}
                answer = getattr(api, step["method"])(**kwargs)
            value = _value(answer)
            if step.get("adopt"):
                session = {
                    "apiKey": value["apiKey"],
                    "token": value["token"],
                    "operatorId": value["operatorId"],
                }
                configuration.api_key["api_key"] = value["apiKey"]
                configuration.api_key["api_token"] = value["token"]
            if step.get("adopt_token"):
                session["token"] = value["token"]
                configuration.api_key["api_token"] = value["token"]
            results.append({"ok": True, "value": value})
        except ApiException as exc:
            try:
                body = json.loads(exc.body) if exc.body else None
            except ValueError:
                body = exc.body if isinstance(exc.body, str) else repr(exc.body)
            results.append(
                {"ok": False, "exception": type(exc).__name__, "status": exc.status, "body": body}
            )
        except OpenApiException as exc:  # the client refused the answer (e.g. a null)
            results.append({"ok": False, "exception": type(exc).__name__, "message": str(exc)})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
