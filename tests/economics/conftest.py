"""The hand-off test desk (tests/handoff/conftest.py) with a LINE that also
shows the loading animation and reports the quota, as LINE does."""

import pytest

from tests.conftest import FakeLine
from tests.handoff.conftest import USER, Desk, app, clock  # noqa: F401

__all__ = ["USER", "EconomicsLine"]


class EconomicsLine(FakeLine):
    """`FakeLine` plus the loading animation and the quota endpoints.

    Pushes count against `limit` as LINE counts them (one per request); at
    the limit a push is refused with LINE's 429.
    """

    def __init__(self):
        super().__init__()
        self.limit = None
        self.manager_sends = 0

    def show_loading_animation(self, chat_id, seconds):
        with self.lock:
            if not 5 <= seconds <= 60 or seconds % 5:
                from bot.line_api import classify

                raise classify(400, '{"message": "The request body has 1 error(s)"}')
            self._fail()
            self.calls.append(("loading", chat_id, seconds))

    def loadings(self):
        return [c for c in self.calls if c[0] == "loading"]

    def get_quota(self):
        if self.limit is None:
            return {"type": "none"}
        return {"type": "limited", "value": self.limit}

    def get_quota_consumption(self):
        return len(self.pushes()) + self.manager_sends


@pytest.fixture
def fake_line():
    return EconomicsLine()


@pytest.fixture
def desk(app, runtime, fake_line, clock):  # noqa: F811
    desk = Desk(app, runtime, fake_line, clock)
    desk.account("aiko")
    desk.account("ben")
    desk.account("boss", "admin")
    return desk
