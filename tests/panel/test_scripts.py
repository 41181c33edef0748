"""The panel's scripts against the server: the event kinds they listen for.

The scripts are plain JavaScript with no build step, so nothing checks that a
name they use exists on the server; these tests read the sources instead.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "agents_ui/static/js"
SERVER = [ROOT / "api", ROOT / "bot", ROOT / "handoff"]


def _published_kinds() -> set[str]:
    """Every dotted string literal in a server module that publishes events.

    Kinds are passed to `publish` as literals (or chosen between literals), so
    a kind the server can publish is among these; a name the panel made up is not.
    """
    kinds = set()
    for folder in SERVER:
        for path in folder.rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            if "publish(" not in source:
                continue
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if re.fullmatch(r"[a-z_]+\.[a-z_]+", node.value):
                        kinds.add(node.value)
    return kinds


def _listened_kinds() -> set[str]:
    """The kinds api.js subscribes to and the kinds any script compares with."""
    api = (SCRIPTS / "api.js").read_text(encoding="utf-8")
    listed = re.search(r"const kinds = \[(.*?)\];", api, re.S).group(1)
    kinds = set(re.findall(r'"([^"]+)"', listed))
    for path in SCRIPTS.glob("*.js"):
        source = path.read_text(encoding="utf-8")
        kinds |= set(re.findall(r'kind === "([a-z_]+\.[a-z_]+)"', source))
    return kinds


def test_every_event_kind_the_panel_listens_for_is_one_the_server_publishes():
    published = _published_kinds()

    assert "quota.warning" in published  # the scan finds the budget's warning
    assert sorted(_listened_kinds() - published) == []
