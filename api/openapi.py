"""The OpenAPI 3.0 description of /api/v1, built from the views themselves.

Every API view carries `@doc(...)`; `document(app)` walks the URL map, so a
route that exists is described with the methods it really has, and nothing
is described that is not routed (tests/api/test_openapi.py holds both ways).
"""

import inspect
import logging
import re

from flask import current_app, jsonify

from api import bp
from api.auth import public

log = logging.getLogger(__name__)

TITLE = "Tsunagi API"
VERSION = "1"
_PARAM = re.compile(r"<(?:(?P<conv>[^:<>]+):)?(?P<name>[^<>]+)>")
_IGNORED_METHODS = {"HEAD", "OPTIONS"}

#: Every view function given to `doc`, to prove each is routed.
DOCUMENTED: list = []

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string", "description": "a stable code, e.g. not_found"},
        "message": {"type": "string"},
        "field": {"type": "string", "description": "the request field at fault"},
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def doc(summary: str, *, request=None, responses=None, params=None):
    """Describe a view for /api/v1/openapi.json.

    `request`: the JSON schema of the body; `responses`: `{status:
    description}` or `{status: (description, schema)}`; `params`: the query
    parameters, `{name: description}` or `{name: (description, schema)}`.
    """

    def decorate(view):
        view.openapi = {
            "summary": summary,
            "request": request,
            "responses": responses or {},
            "params": params or {},
        }
        DOCUMENTED.append(view)
        return view

    return decorate


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: `/agents/<username>` → `/agents/{username}`."""
    return _PARAM.sub(lambda m: "{" + m["name"] + "}", rule)


def _response(status, spec):
    description, schema = spec if isinstance(spec, tuple) else (spec, None)
    out = {"description": description}
    if schema is None and int(status) >= 400:
        schema = _ERROR_REF
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _parameter(name, spec, where):
    description, schema = spec if isinstance(spec, tuple) else (spec, None)
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _operation(rule, method, view, info) -> dict:
    is_public = getattr(view, "public", False)
    op = {
        "operationId": f"{rule.endpoint.split('.', 1)[-1]}_{method.lower()}",
        "summary": info["summary"],
        "tags": [rule.rule[len(bp.url_prefix) :].strip("/").split("/")[0]],
    }
    description = inspect.getdoc(view)
    if description:
        op["description"] = description
    params = [_parameter(m["name"], "", "path") for m in _PARAM.finditer(rule.rule)]
    if method in ("GET", "DELETE"):
        params += [_parameter(n, s, "query") for n, s in info["params"].items()]
    if params:
        op["parameters"] = params
    if info["request"] is not None and method in ("POST", "PUT", "PATCH"):
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": info["request"]}},
        }

    responses = {str(s): _response(s, spec) for s, spec in info["responses"].items()}
    if not is_public:
        responses.setdefault("401", _response(401, "not logged in"))
        role = getattr(view, "required_role", "agent")
        responses.setdefault("403", _response(403, f"the caller is not {role}"))
        op["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
        op["x-required-role"] = role
    else:
        op["security"] = []
    if "requestBody" in op:
        responses.setdefault("400", _response(400, "the body is not a JSON object"))
        responses.setdefault("422", _response(422, "a field is invalid"))
    responses.setdefault("default", _response(500, "error"))
    op["responses"] = responses
    return op


def api_rules(app):
    """The URL rules of /api/v1, with their methods (HEAD/OPTIONS left out)."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(bp.url_prefix + "/") or rule.rule == bp.url_prefix:
            yield rule, sorted(rule.methods - _IGNORED_METHODS)


def document(app) -> dict:
    """The OpenAPI document for `app`'s /api/v1 routes."""
    paths = {}
    for rule, methods in api_rules(app):
        view = app.view_functions[rule.endpoint]
        info = getattr(view, "openapi", None)
        if info is None:
            log.warning("openapi: %s has no @doc", rule.rule)
            continue
        item = paths.setdefault(openapi_path(rule.rule[len(bp.url_prefix) :]), {})
        for method in methods:
            item[method.lower()] = _operation(rule, method, view, info)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "The JSON API of the Tsunagi support desk. Errors are always "
                '`{"error", "message", "field"?}`.'
            ),
        },
        "servers": [{"url": bp.url_prefix}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "tsunagi_session",
                    "description": "the panel's session; state-changing requests "
                    "also need the X-CSRF-Token header",
                },
            },
        },
    }


@bp.get("/openapi.json")
@public
@doc("This OpenAPI document", responses={200: "the OpenAPI 3.0 document"})
def openapi_json():
    """The description of every /api/v1 route."""
    return jsonify(document(current_app))


def unrouted(app) -> list:
    """Views given to `doc` that no /api/v1 rule of `app` serves."""
    routed = set()
    for rule, _ in api_rules(app):
        view = app.view_functions[rule.endpoint]
        while view is not None:
            routed.add(view)
            view = getattr(view, "__wrapped__", None)
    return [view for view in DOCUMENTED if view not in routed]
