"""The OpenAPI document describes every /api/v1 route, and only those."""

import re

from api.openapi import api_rules, openapi_path, unrouted


def test_openapi_json_is_public_and_openapi_3(client):
    resp = client.get("/api/v1/openapi.json")

    assert resp.status_code == 200
    assert resp.json["openapi"].startswith("3.0")
    assert resp.json["components"]["schemas"]["Error"]


def test_every_api_route_and_method_is_described(app, client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    missing = []
    for rule, methods in api_rules(app):
        described = paths.get(openapi_path(rule.rule[len("/api/v1") :]), {})
        missing += [f"{m} {rule.rule}" for m in methods if m.lower() not in described]
    assert missing == []


def test_every_described_route_exists(app, client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    routed = {
        (openapi_path(rule.rule[len("/api/v1") :]), method.lower())
        for rule, methods in api_rules(app)
        for method in methods
    }

    described = {(path, method) for path, ops in paths.items() for method in ops}

    assert described - routed == set()
    assert unrouted(app) == []


def test_path_parameters_are_declared(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    for path, ops in paths.items():
        names = set(re.findall(r"{([^}]+)}", path))
        for op in ops.values():
            declared = {
                p["name"] for p in op.get("parameters", []) if p["in"] == "path"
            }
            assert declared == names, path


def test_protected_operations_name_their_role_and_security(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    agents = paths["/agents"]["post"]
    token = paths["/auth/token"]["post"]
    assert agents["x-required-role"] == "admin"
    assert {"bearerAuth": []} in agents["security"]
    assert "403" in agents["responses"]
    assert token["security"] == []
    assert token["requestBody"]["content"]["application/json"]["schema"]["required"]


def test_operation_ids_are_unique(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    ids = [op["operationId"] for ops in paths.values() for op in ops.values()]

    assert len(ids) == len(set(ids))
