"""The inbox page as screen readers meet it: labels, and what is announced."""

from html.parser import HTMLParser

from tests.api.conftest import panel_login
from tests.panel import test_pages
from tests.panel.test_pages import AGENT_PASSWORD

#: The page tests' accounts: boss (admin, en) and aiko (agent, ja).
accounts = test_pages.accounts


class _ById(HTMLParser):
    """The attributes of every element with an id."""

    def __init__(self):
        super().__init__()
        self.elements = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.elements[attributes["id"]] = attributes


def inbox_elements(client) -> dict:
    panel_login(client, "aiko", AGENT_PASSWORD)
    parser = _ById()
    parser.feed(client.get("/").get_data(as_text=True))
    return parser.elements


def test_the_answer_box_is_labelled_in_the_agents_language(client, accounts):
    elements = inbox_elements(client)

    assert elements["draft"]["aria-label"] == "ユーザーへの返信"


def test_lists_and_clocks_that_change_every_second_are_not_live(client, accounts):
    """tick() rewrites the list's countdowns and the cost badge each second; a
    live region there would read them out every second."""
    elements = inbox_elements(client)

    assert "aria-live" not in elements["conversations"]
    assert "aria-live" not in elements["cost"]
    assert elements["cost-change"]["aria-live"] == "polite"
