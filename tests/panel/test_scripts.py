"""The panel's scripts against the server: the event kinds they listen for and
the words they show.

The scripts are plain JavaScript with no build step, so nothing checks that a
name they use exists on the server; these tests read the sources instead.
"""

import ast
import json
import re
from pathlib import Path

from babel.messages.pofile import read_po

from agents_ui.words import SCRIPT_WORDS

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "agents_ui/static/js"
SERVER = [ROOT / "api", ROOT / "bot", ROOT / "handoff"]
CATALOGUE = ROOT / "agents_ui/translations/ja/LC_MESSAGES/messages.po"
#: `t("…")` or `t('…')`: a word looked up by its literal English text.
WORD_CALL = re.compile(r"""\bt\(\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)')""")


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


def _script_words() -> dict[str, str]:
    """Each word a script looks up by a literal, with the script it is in."""
    found = {}
    for path in sorted(SCRIPTS.glob("*.js")):
        for match in WORD_CALL.finditer(path.read_text(encoding="utf-8")):
            double, single = match.groups()
            if double is not None:
                word = json.loads(f'"{double}"')
            else:
                word = single.replace("\\'", "'")
            found.setdefault(word, path.name)
    return found


def test_the_word_scan_finds_the_scripts_words():
    found = _script_words()

    assert found["Claimed."] == "inbox.js"
    assert found["The desk cannot be reached."] == "api.js"


def test_every_word_a_script_shows_is_a_script_word():
    """A word missing from SCRIPT_WORDS reaches no page, so it shows in English."""
    missing = {w: f for w, f in _script_words().items() if w not in SCRIPT_WORDS}

    assert missing == {}


def test_every_word_a_script_shows_has_a_japanese_translation():
    with open(CATALOGUE, "rb") as handle:
        catalogue = read_po(handle)

    untranslated = {
        word: script
        for word, script in _script_words().items()
        if word not in catalogue or not catalogue[word].string
    }

    assert untranslated == {}
