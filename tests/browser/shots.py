"""Where browser tests save their screenshots.

Into `docs/` (the README shows them) only when `TSUNAGI_SCREENSHOTS=1`, so an
ordinary `make test` leaves the working tree clean; else a temporary folder.
"""

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SCRATCH = Path(tempfile.gettempdir()) / "tsunagi-screenshots"


def screenshot_path(name: str) -> str:
    """The file a screenshot called `name` (e.g. "panel-inbox.png") goes to."""
    if os.environ.get("TSUNAGI_SCREENSHOTS") == "1":
        return str(ROOT / "docs" / name)
    _SCRATCH.mkdir(exist_ok=True)
    return str(_SCRATCH / name)
