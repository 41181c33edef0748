"""Where the bot's answer meets the people side.

`route` sees every event the bot is about to answer and may change or silence
the answer (a queued or assigned conversation gets no automatic answers; a
hand-off moves the conversation to the queue).

TODO: the hand-off issue makes this consult conversations; until then the
bot's answer passes through unchanged.
"""


def route(runtime, chat_id: str, event: dict, answer):
    """The answer to send for `event` (possibly changed), or None."""
    return answer
