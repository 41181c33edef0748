"""Words the panel's scripts show, translated on the server.

The scripts look words up by their English text (`t("Claimed.")` in
`static/js/api.js`); each page carries this table in its language as JSON, so
the scripts need no catalogue of their own. Extraction (`pybabel extract -k N_`)
finds them here; add a word here when a script starts using it.
"""

from flask_babel import gettext


def N_(text: str) -> str:
    """Mark `text` for extraction; it is translated when a page is drawn."""
    return text


SCRIPT_WORDS = (
    N_("(no name)"),
    N_("Address of the image (https://…, JPEG or PNG)"),
    N_("Admin"),
    N_("Agent"),
    N_("Assigned to you"),
    N_("Assigned to {name}"),
    N_("At most 5 bubbles go in one answer."),
    N_("Back to the queue"),
    N_("Claimed."),
    N_("Closed"),
    N_("Closed."),
    N_("Created."),
    N_("Delete"),
    N_("Delete /{code}?"),
    N_("Delete this rule?"),
    N_("Deleted."),
    N_("Disable"),
    N_("Disable {name}? Their sessions end at once."),
    N_("Disabled."),
    N_("Enable"),
    N_("Enabled"),
    N_("Enabled again."),
    N_("Held until the user writes:"),
    N_("Held: it goes out free when the user next writes."),
    N_("Image"),
    N_("LINE needs an https:// address for images."),
    N_("No rule answers this."),
    N_("None"),
    N_("Nothing changed."),
    N_("Priority"),
    N_("Remove"),
    N_("Replies: the JSON is not valid ({detail})."),
    N_("Role"),
    N_("Rule"),
    N_("Saved."),
    N_("Sent as a paid push."),
    N_("Sent free through the user's reply token."),
    N_("The JSON is not valid ({detail})."),
    N_("The JSON is not valid yet."),
    N_("The bot is answering"),
    N_("The desk cannot be reached."),
    N_(
        "The free window has shut. Sending now is a paid push ({n} message, "
        "{objects} bubbles). Send it, or hold it until the user writes?"
    ),
    N_("The month's budget is running low."),
    N_("Transferred."),
    N_("Waiting in the queue"),
    N_("disabled"),
    N_("free · reply"),
    N_("free · {left}"),
    N_("free · {left} left"),
    N_("hand-off"),
    N_("held until the user writes"),
    N_("paid push (1 message)"),
    N_("paid push ({n} messages)"),
    N_("paid · push"),
    N_("push"),
    N_("scheduled"),
    N_("waiting {time}"),
    N_("window shut"),
    N_("yes"),
    N_("{h} h {m} min"),
    N_("{n} d"),
    N_("{n} min"),
    N_("{n} s"),
    N_("bot"),
    N_("queued"),
    N_("assigned"),
    N_("closed"),
    N_("user"),
    N_("agent"),
    N_("system"),
    N_("follow"),
    N_("unfollow"),
    N_("postback"),
    N_("join"),
    N_("leave"),
    N_("memberJoined"),
    N_("memberLeft"),
    N_("beacon"),
    N_("accountLink"),
    N_("unsend"),
    N_("videoPlayComplete"),
    N_("held"),
    N_("refused"),
    N_("reply"),
    N_("ask"),
    N_("hold"),
    N_("exact"),
    N_("contains"),
    N_("regex"),
    N_("event"),
    N_("fallback"),
    N_("video"),
    N_("audio"),
    N_("file"),
    N_("Happy"),
    N_("OK"),
    N_("Thanks"),
    N_("Sad"),
    N_("Surprised"),
    N_("Love"),
    N_("Sorry"),
)


def for_script() -> dict[str, str]:
    """Every script word in the current request's language."""
    return {word: gettext(word) for word in SCRIPT_WORDS}
