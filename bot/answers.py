"""What the bot says, until admin-edited rules take over.

`decide` is the single seam between handling an event and choosing words: it
returns an `Answer` (message objects plus what else the chosen rule asks for),
or None to stay silent.
"""

import logging
import unicodedata
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

GREETING = (
    "友だち追加ありがとうございます！ご質問をどうぞ。\n"
    "Thanks for adding us! Ask us anything."
)
FALLBACK = (
    "メッセージありがとうございます。担当者が確認します。\n"
    "Thanks for your message. We will look into it."
)
HANDOFF_ACK = (
    "担当者におつなぎします。少々お待ちください。\n"
    "We are connecting you with a person. Please wait a moment."
)
HANDOFF_PHRASES = ("オペレーター", "担当者", "人と話したい", "human", "agent")


def fold(text: str) -> str:
    """Compare-friendly text: NFKC (full/half width) and case folding."""
    return unicodedata.normalize("NFKC", text).casefold()


def asks_for_person(text: str) -> bool:
    """True when `text` asks to talk to a person."""
    folded = fold(text)
    return any(fold(phrase) in folded for phrase in HANDOFF_PHRASES)


def text(body: str) -> dict:
    return {"type": "text", "text": body}


@dataclass
class Answer:
    """The bot's decision for one event.

    `handoff` asks for a person; `rule_id` names the rule that matched (None
    for built-in answers); `tags` are added to the user.
    """

    messages: list = field(default_factory=list)
    rule_id: str | None = None
    handoff: bool = False
    tags: list = field(default_factory=list)


def decide(runtime, event: dict, chat_id: str):
    """The bot's answer to `event`, or None to stay silent."""
    kind = event.get("type")
    if kind == "follow":
        return Answer([text(GREETING)])
    if kind != "message":
        return None
    message = event.get("message") or {}
    if message.get("type") == "text" and asks_for_person(message.get("text", "")):
        return Answer([text(HANDOFF_ACK)], handoff=True)
    if message.get("type") in ("text", "sticker", "image"):
        return Answer([text(FALLBACK)])
    return None
