"""What the browser tests share: Debian's Chromium and where pictures go.

Chromium is the system's (`apt-get install chromium`), driven by Playwright's
Python package through `executable_path`; no browser is ever downloaded. The
flags keep it from reaching for the network, which this machine does not have.
Screenshots go into `docs/` (the README shows them) only when
`TSUNAGI_SCREENSHOTS=1`, so an ordinary `make test` leaves the tree clean.
Without Chromium the tests are skipped on a developer's machine, but fail
when `TSUNAGI_REQUIRE_BROWSER=1` (CI sets it), so CI never passes untested.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_SCRATCH = Path(tempfile.gettempdir()) / "tsunagi-screenshots"


def screenshot_path(name: str) -> str:
    """The file a screenshot called `name` (e.g. "panel-inbox.png") goes to."""
    if os.environ.get("TSUNAGI_SCREENSHOTS") == "1":
        return str(ROOT / "docs" / name)
    _SCRATCH.mkdir(exist_ok=True)
    return str(_SCRATCH / name)


def need_chromium() -> None:
    """Skip the calling test (or fail it under CI) when Chromium is missing."""
    if shutil.which(CHROMIUM):
        return
    reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
    if os.environ.get("TSUNAGI_REQUIRE_BROWSER") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
