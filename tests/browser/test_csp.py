"""The panel under its Content-Security-Policy, in real Chromium: visiting the
login page, the inbox, a conversation and every admin page breaks no rule of
the policy (no inline style or script, no picture or connection it refuses).

A violation is seen twice over: the page's `securitypolicyviolation` events
(reported to the test through an exposed function) and Chromium's console
message about it.
"""

import pytest

from tests.browser import test_panel as panel

pytestmark = pytest.mark.browser

# The desk, browser and page of the panel's tests (a desk of this module's own).
desk = panel.desk
browser = panel.browser
context = panel.context
page = panel.page

REPORT = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation({
    page: location.pathname,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    sample: event.sample,
  });
});
"""


class Violations:
    """Every CSP violation a page reports, across its navigations."""

    def __init__(self, page):
        self.page = page
        self.seen = []
        page.expose_function("reportCspViolation", self._report)
        page.add_init_script(REPORT)
        page.on("console", self._console)

    def _report(self, violation):
        self.seen.append(violation)

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.seen.append(message.text)

    def settled(self) -> list:
        """The violations so far, once the page's queued events have reached
        the test (a round trip through the page's task queue)."""
        self.page.evaluate("() => new Promise((done) => setTimeout(done, 0))")
        return list(self.seen)


@pytest.fixture
def violations(page):
    return Violations(page)


def test_the_collector_sees_what_the_policy_refuses(desk, page, violations):
    page.goto(f"{desk.web}/login", wait_until="load")
    page.evaluate(
        """() => {
            document.body.setAttribute("style", "color: red");
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.append(script);
        }"""
    )

    seen = violations.settled()

    directives = {v["directive"] for v in seen if isinstance(v, dict)}
    assert {"style-src-attr", "script-src-elem"} <= directives, seen
    assert page.evaluate("window.inlineRan === undefined")


def test_panel_and_console_pages_break_no_rule_of_the_policy(desk, page, violations):
    from playwright.sync_api import expect

    panel.set_settings(desk, handoff_agent_wait_seconds=0, quota_plan="communication")
    try:
        panel.hand_off(desk, "Policy Pia")
        page.goto(f"{desk.web}/login", wait_until="load")
        panel.login(page, desk, *panel.ADMIN)
        panel.wait_live(page)  # EventSource to /api/v1/events connected

        row = panel.row_of(page, "Policy Pia")
        expect(row).to_be_visible(timeout=panel.WAIT)
        row.click()
        expect(page.locator("#thread-name")).to_have_text("Policy Pia")
        # The profile picture (the LINE stand-in's avatar) is allowed to load.
        picture = page.locator("#profile-picture")
        expect(picture).to_be_visible(timeout=panel.WAIT)
        page.wait_for_function(
            "() => document.getElementById('profile-picture').naturalWidth > 0",
            timeout=panel.WAIT,
        )

        sections = page.locator("nav.sections a")
        paths = [sections.nth(n).get_attribute("href") for n in range(sections.count())]
        assert "/admin/quota" in paths
        for path in [*paths, "/admin/rules/new"]:
            panel.goto(page, f"{desk.web}{path}")
        panel.goto(page, f"{desk.web}/admin/rules")
        page.locator("#rules a[href^='/admin/rules/']").first.click()
        page.wait_for_url("**/admin/rules/*")
        panel.wait_ready(page)

        panel.goto(page, f"{desk.web}/admin/quota")
        assert violations.settled() == []
        # The quota meter, drawn without a style= attribute, still shows.
        expect(page.locator("svg.meter rect")).to_have_count(1)
        assert page.locator("svg.meter").bounding_box()["width"] > 0
    finally:
        panel.set_settings(desk, handoff_agent_wait_seconds=None, quota_plan=None)
