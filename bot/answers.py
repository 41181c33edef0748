"""What the bot says, until admin-edited rules take over.

`answer_for` is the single seam between handling an event and choosing words:
it returns LINE message objects to send, or None to stay silent.
"""

import logging
import unicodedata

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


def answer_for(runtime, event: dict):
    """The bot's answer to `event` as message objects, or None."""
    kind = event.get("type")
    if kind == "follow":
        return [text(GREETING)]
    if kind != "message":
        return None
    message = event.get("message") or {}
    if message.get("type") == "text" and asks_for_person(message.get("text", "")):
        return [text(HANDOFF_ACK)]
    if message.get("type") in ("text", "sticker", "image"):
        return [text(FALLBACK)]
    return None
