"""The panel's browser session: cookie flags, CSRF, login and logout."""

import pytest

from tests.api.conftest import AGENT_PASSWORD, panel_login


def _csrf_of_login_page(client):
    client.get("/login")
    with client.session_transaction() as session:
        return session["csrf_token"]


def test_login_page_has_the_form_and_a_csrf_meta_tag(client):
    page = client.get("/login").get_data(as_text=True)

    assert 'name="username"' in page
    assert 'name="password"' in page
    assert '<meta name="csrf-token" content="' in page


def test_login_form_without_csrf_token_is_refused(client, accounts):
    client.get("/login")

    resp = client.post("/login", data={"username": "aiko", "password": AGENT_PASSWORD})

    assert resp.status_code == 403
    assert client.get("/").status_code == 302


def test_login_form_logs_in_and_lands_on_the_inbox(client, accounts):
    panel_login(client, "aiko", AGENT_PASSWORD)

    page = client.get("/")

    assert page.status_code == 200
    assert "受信箱" in page.get_data(as_text=True)
    assert "Aiko" in page.get_data(as_text=True)


def test_wrong_password_shows_the_form_again_with_one_message(client, accounts):
    csrf = _csrf_of_login_page(client)

    resp = client.post(
        "/login",
        data={"username": "aiko", "password": "not-it-at-all", "csrf_token": csrf},
    )

    assert resp.status_code == 401
    assert "ユーザー名またはパスワードが違います" in resp.get_data(as_text=True)


def test_login_page_speaks_the_browsers_language_until_login(client, accounts):
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.8"})
    japanese = client.get("/login", headers={"Accept-Language": "ja,en;q=0.5"})

    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "Log in" in english.get_data(as_text=True)
    assert "ログイン" in japanese.get_data(as_text=True)


def test_pages_follow_the_accounts_language(client, accounts):
    panel_login(client, "boss", "admin-password-1")

    page = client.get("/", headers={"Accept-Language": "ja"}).get_data(as_text=True)

    assert '<html lang="en">' in page
    assert "Inbox" in page


def test_throttled_login_form_says_how_long_to_wait(client, accounts):
    csrf = _csrf_of_login_page(client)
    data = {"username": "aiko", "password": "wrong-password", "csrf_token": csrf}
    for _ in range(5):
        client.post("/login", data=data, headers={"Accept-Language": "en"})

    resp = client.post("/login", data=data, headers={"Accept-Language": "en"})

    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "5"
    assert "Try again in 5 seconds" in resp.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite_lax(client, accounts):
    csrf = _csrf_of_login_page(client)
    resp = client.post(
        "/login",
        data={"username": "aiko", "password": AGENT_PASSWORD, "csrf_token": csrf},
    )

    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_over_https(app, accounts):
    client = app.test_client()
    client.get("/login", base_url="https://desk.example")
    with client.session_transaction(base_url="https://desk.example") as session:
        csrf = session["csrf_token"]

    resp = client.post(
        "/login",
        base_url="https://desk.example",
        data={"username": "aiko", "password": AGENT_PASSWORD, "csrf_token": csrf},
    )

    assert "Secure" in resp.headers["Set-Cookie"]


def test_login_replaces_the_csrf_token(client, accounts):
    before = _csrf_of_login_page(client)

    after = panel_login(client, "aiko", AGENT_PASSWORD)

    assert before != after


def test_cookie_fetch_that_changes_state_needs_the_csrf_header(client, accounts):
    csrf = panel_login(client, "boss", "admin-password-1")

    refused = client.put("/api/v1/settings", json={"login_slow_after": 6})
    wrong = client.put(
        "/api/v1/settings",
        json={"login_slow_after": 6},
        headers={"X-CSRF-Token": "forged"},
    )
    accepted = client.put(
        "/api/v1/settings", json={"login_slow_after": 6}, headers={"X-CSRF-Token": csrf}
    )

    assert refused.status_code == wrong.status_code == 403
    assert refused.json["error"] == "csrf_failed"
    assert accepted.status_code == 200
    assert accepted.json["login_slow_after"] == 6


def test_a_non_ascii_csrf_token_is_a_403_not_a_500(client, accounts):
    panel_login(client, "boss", "admin-password-1")

    api = client.put("/api/v1/settings", json={}, headers={"X-CSRF-Token": "é"})
    form = client.post("/logout", data={"csrf_token": "日本"})

    assert api.status_code == 403
    assert api.json["error"] == "csrf_failed"
    assert form.status_code == 403
    assert client.get("/").status_code == 200


def test_cookie_reads_need_no_csrf_header(client, accounts):
    panel_login(client, "aiko", AGENT_PASSWORD)

    assert client.get("/api/v1/auth/me").json["username"] == "aiko"


def test_bearer_calls_need_no_csrf(client, admin):
    resp = client.put("/api/v1/settings", json={"login_slow_after": 7}, headers=admin)

    assert resp.status_code == 200


def test_logout_without_csrf_is_refused_and_keeps_the_session(client, accounts):
    panel_login(client, "aiko", AGENT_PASSWORD)

    assert client.post("/logout").status_code == 403
    assert client.get("/").status_code == 200


def test_logout_ends_the_session(client, accounts):
    csrf = panel_login(client, "aiko", AGENT_PASSWORD)

    resp = client.post("/logout", data={"csrf_token": csrf})

    assert resp.status_code == 302
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/auth/me").status_code == 401


def test_session_ends_after_its_lifetime(client, accounts, clock):
    panel_login(client, "aiko", AGENT_PASSWORD)

    clock.advance(12 * 3600)

    assert client.get("/").status_code == 302


def test_disabling_an_account_ends_its_panel_session(app, accounts):
    agent, boss = app.test_client(), app.test_client()
    panel_login(agent, "aiko", AGENT_PASSWORD)
    csrf = panel_login(boss, "boss", "admin-password-1")

    boss.delete("/api/v1/agents/aiko", headers={"X-CSRF-Token": csrf})

    assert agent.get("/").status_code == 302


def test_agent_cookie_is_403_on_admin_routes(client, accounts):
    panel_login(client, "aiko", AGENT_PASSWORD)

    assert client.get("/api/v1/agents").status_code == 403


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "inbox"]
)
def test_login_follows_next_only_within_the_site(app, accounts, target):
    client = app.test_client()
    csrf = _csrf_of_login_page(client)
    data = {"username": "aiko", "password": AGENT_PASSWORD, "csrf_token": csrf}

    resp = client.post("/login", query_string={"next": target}, data=data)

    assert resp.location == "/"


def test_login_follows_a_local_next(client, accounts):
    csrf = _csrf_of_login_page(client)
    data = {"username": "aiko", "password": AGENT_PASSWORD, "csrf_token": csrf}

    resp = client.post("/login?next=/%3Ftab%3Dmine", data=data)

    assert resp.location == "/?tab=mine"


def test_a_copied_cookie_stops_working_after_logout(app, accounts):
    browser = app.test_client()
    csrf = panel_login(browser, "aiko", AGENT_PASSWORD)
    stolen = browser.get_cookie("tsunagi_session").value

    browser.post("/logout", data={"csrf_token": csrf})
    thief = app.test_client()
    thief.set_cookie("tsunagi_session", stolen)

    assert thief.get("/").status_code == 302
    assert thief.get("/api/v1/auth/me").status_code == 401


def test_own_password_change_in_the_panel_keeps_this_session_only(app, accounts):
    here, elsewhere = app.test_client(), app.test_client()
    csrf = panel_login(here, "aiko", AGENT_PASSWORD)
    panel_login(elsewhere, "aiko", AGENT_PASSWORD)

    resp = here.patch(
        "/api/v1/auth/me",
        json={"password": "a-new-password", "current_password": AGENT_PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )

    assert resp.status_code == 200
    fresh = resp.headers["X-CSRF-Token"]
    assert fresh != csrf
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert (
        here.patch(
            "/api/v1/auth/me", json={"language": "en"}, headers={"X-CSRF-Token": fresh}
        ).json["language"]
        == "en"
    )


def test_logout_ends_the_event_stream_at_its_next_heartbeat(app, client, accounts):
    app.config["TSUNAGI_SSE_HEARTBEAT"] = 0.0
    csrf = panel_login(client, "aiko", AGENT_PASSWORD)
    stream = client.get("/api/v1/events", buffered=False)
    chunks = iter(stream.response)
    next(chunks)
    assert next(chunks) == b": heartbeat\n\n"

    client.post("/logout", data={"csrf_token": csrf})

    rest = [chunk for _, chunk in zip(range(50), chunks, strict=False)]
    assert len(rest) < 50 or rest[-1].startswith(b"event: reconnect")
    stream.close()
