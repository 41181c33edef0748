"""Every route that is not public refuses anonymous callers."""

import re

import pytest

from api.auth import is_public_endpoint

#: The routes the brief makes public, besides static files and the simulator.
PUBLIC = {
    ("/callback", "POST"),
    ("/healthz", "GET"),
    ("/login", "GET"),
    ("/login", "POST"),
    ("/api/v1/auth/token", "POST"),
    ("/api/v1/openapi.json", "GET"),
    # The login page's language switch (the panel's; it changes no account
    # unless one is logged in, and needs the CSRF token like any form).
    ("/language", "POST"),
    # Photos agents uploaded: LINE's servers fetch them with no credentials
    # (handoff/uploads.py); the address is 128 random bits.
    ("/media/<name>", "GET"),
}
_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = _ARG.sub("sample", rule.rule)
            yield rule, method, path


def test_the_map_has_api_and_panel_routes(app):
    paths = {rule.rule for rule, _, _ in routes(app)}

    assert {"/api/v1/agents", "/api/v1/settings", "/", "/login"} <= paths


def test_every_route_not_marked_public_refuses_anonymous_callers(app):
    client = app.test_client()
    checked = 0
    for rule, method, path in routes(app):
        if is_public_endpoint(app, rule.endpoint):
            continue
        resp = client.open(path, method=method)
        if path.startswith("/api/"):
            assert resp.status_code == 401, (method, path, resp.status_code)
            assert resp.json["error"] == "unauthorized"
        else:
            assert resp.status_code in (302, 303), (method, path, resp.status_code)
            assert resp.location.startswith("/login"), (method, path)
        checked += 1
    assert checked >= 10


def test_only_the_agreed_routes_are_public(app):
    opened = {
        (rule.rule, method)
        for rule, method, _ in routes(app)
        if is_public_endpoint(app, rule.endpoint)
        and rule.endpoint != "static"
        and not rule.rule.startswith("/simulator")
    }

    assert opened <= PUBLIC


@pytest.mark.parametrize("path", ["/", "/?tab=mine"])
def test_page_redirect_remembers_where_the_visitor_was_going(client, path):
    resp = client.get(path)

    assert resp.status_code == 302
    assert resp.location.startswith("/login?next=")
