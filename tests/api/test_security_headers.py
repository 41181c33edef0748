"""Every panel page carries a strict Content-Security-Policy, and every other
answer (the JSON API, the webhook, static files) one that loads nothing.

The pages are taken from the app's URL map, so a page added later is checked
without anyone remembering to list it here.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app import NON_PAGE_CSP, create_app, panel_csp
from config import Config
from tests.api.conftest import ADMIN_PASSWORD, panel_login

ROOT = Path(__file__).resolve().parents[2]
#: Values for the URL map's path parameters (an unknown one fails the test:
#: add a sample for it).
SAMPLES = {"conversation_id": "01ABC", "rule_id": "default-greeting"}
NOT_PAGES = {"panel.login", "panel.logout", "panel.set_language"}


def policy_of(response) -> dict:
    """The response's CSP as {directive: value}."""
    header = response.headers["Content-Security-Policy"]
    return dict(
        part.strip().split(" ", 1) for part in header.split(";") if part.strip()
    )


def panel_pages(app) -> list[str]:
    pages = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("panel.") or "GET" not in rule.methods:
            continue
        if rule.endpoint in NOT_PAGES:
            continue
        missing = set(rule.arguments) - set(SAMPLES)
        assert not missing, f"add a sample value for {missing} of {rule.rule}"
        pages.append(rule.build({k: SAMPLES[k] for k in rule.arguments})[1])
    return sorted(pages)


def test_the_panel_has_pages_to_check(app):
    pages = panel_pages(app)

    assert "/" in pages
    assert "/admin/quota" in pages
    assert "/admin/rules/default-greeting" in pages


def test_every_panel_page_carries_the_strict_policy(app, client, accounts):
    panel_login(client, "boss", ADMIN_PASSWORD)
    pages = ["/login", *panel_pages(app)]
    logged_out = app.test_client()

    for path in pages:
        resp = client.get(path)
        assert resp.status_code in (200, 302), (path, resp.status_code)
        assert resp.mimetype == "text/html", path
        policy = policy_of(resp)
        assert policy["default-src"] == "'none'", path
        assert policy["script-src"] == "'self'", path
        assert policy["style-src"] == "'self'", path
        assert policy["connect-src"] == "'self'", path
        assert policy["object-src"] == "'none'", path
        assert policy["base-uri"] == "'none'", path
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["form-action"] == "'self'", path
        assert "'unsafe-inline'" not in resp.headers["Content-Security-Policy"]
        assert "'unsafe-eval'" not in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "same-origin"
        # The redirect to the login page is a document too.
        anonymous = logged_out.get(path)
        assert policy_of(anonymous) == policy, path


def test_pictures_may_come_from_https_the_desk_itself_and_data(app, client):
    img = policy_of(client.get("/login"))["img-src"].split()

    assert {"'self'", "https:", "data:"} <= set(img)
    assert "http:" not in img
    assert "*" not in img


def test_a_plain_http_line_stand_in_may_serve_pictures_and_line_adds_nothing():
    stand_in = Config(line_api_host="http://127.0.0.1:8100/simulator/line")
    line = Config()

    assert "img-src 'self' https: data: http://127.0.0.1:8100;" in panel_csp(stand_in)
    assert "img-src 'self' https: data:;" in panel_csp(line)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/me",
        "/api/v1/openapi.json",
        "/api/v1/no-such-route",
        "/healthz",
        "/static/css/panel.css",
        "/static/js/inbox.js",
    ],
)
def test_everything_else_loads_nothing(client, admin, path):
    resp = client.get(path, headers=admin)

    assert resp.headers["Content-Security-Policy"] == NON_PAGE_CSP
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_the_simulators_own_policy_is_left_alone():
    import fakeredis

    from bot.runtime import Runtime

    config = Config(env="development", secret_key="k")
    config.check()  # no LINE credentials: the simulator is mounted
    runtime = Runtime(config, server=fakeredis.FakeServer())
    app = create_app(config, runtime=runtime, start_workers=False)

    resp = app.test_client().get("/simulator")

    assert config.simulator is True
    assert resp.status_code == 200
    policy = resp.headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https: http:" in policy


class Inline(HTMLParser):
    """Collects what a strict CSP would refuse: inline styles and handlers,
    <style> blocks and scripts that run without a src."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        for name, _value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in names:
            if names.get("type") != "application/json":
                self.found.append("<script> without src")
        href = names.get("href") or ""
        if href.lower().startswith("javascript:"):
            self.found.append(f"<{tag} href=javascript:...>")


def test_panel_pages_hold_no_inline_code_or_style(app, client, accounts, admin):
    # A plan with a limit, so the quota page draws its meter too.
    resp = client.put(
        "/api/v1/settings", json={"quota_plan": "communication"}, headers=admin
    )
    assert resp.status_code == 200, resp.json
    panel_login(client, "boss", ADMIN_PASSWORD)
    assert '<svg class="meter"' in client.get("/admin/quota").get_data(as_text=True)

    for path in ["/login", *panel_pages(app)]:
        resp = client.get(path, follow_redirects=True)
        parser = Inline()
        parser.feed(resp.get_data(as_text=True))
        assert parser.found == [], path


def test_templates_and_scripts_set_no_inline_style_or_handler():
    templates = ROOT / "agents_ui" / "templates"
    scripts = ROOT / "agents_ui" / "static" / "js"
    attribute = re.compile(r"<[a-zA-Z][^>]*\s(style|on[a-z]+)\s*=", re.S)
    setter = re.compile(
        r"""setAttribute\(\s*["'](style|on[a-z]+)["']|\.innerHTML\s*=|"""
        r"""insertAdjacentHTML|\beval\(|new Function\(|\{[^}]*\bstyle:"""
    )

    bad = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in templates.rglob("*.html")
        for match in attribute.finditer(path.read_text())
    ] + [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in scripts.rglob("*.js")
        for match in setter.finditer(path.read_text())
    ]

    assert bad == []
