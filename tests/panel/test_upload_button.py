"""The composer's upload button is on only when LINE can fetch uploads."""

import re

from handoff.agents import Agents
from tests.api.conftest import AGENT_PASSWORD, panel_login


def _inbox(client, runtime) -> str:
    Agents(runtime.redis).create("aiko", AGENT_PASSWORD, "agent", "Aiko", "en")
    panel_login(client, "aiko", AGENT_PASSWORD)
    return client.get("/").get_data(as_text=True)


def _button(page: str) -> str:
    return re.search(r'<button[^>]*id="upload-button"[^>]*>', page).group(0)


def test_without_public_url_the_button_is_off_and_says_why(client, runtime, config):
    config.public_url = ""

    page = _inbox(client, runtime)

    assert 'data-upload=""' in page
    assert " disabled" in _button(page)
    assert "PUBLIC_URL" in _button(page)
    assert 'type="file" id="upload-file" accept="image/jpeg,image/png"' in page


def test_with_an_https_public_url_the_button_is_on(client, runtime, config):
    config.public_url = "https://desk.example"

    page = _inbox(client, runtime)

    assert 'data-upload="on"' in page
    assert " disabled" not in _button(page)
