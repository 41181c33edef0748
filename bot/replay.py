"""Rule replay: what a rule draft would have done to the last N days' traffic.

The stored history of every chat is walked event by event. Each inbound event
is matched twice, against the live rules and against the live rules with the
draft added (so the draft competes by priority as it would in production),
at the time the event arrived. Events that came while a conversation was with
people are left out: the bot says nothing then, whatever the rules.

Costs are counted from what really followed each event:
- a draft that answers an event which led to a hand-off (and is not itself a
  hand-off rule) would have spared the pushes billed in that conversation;
- pushes the bot made answering the event (the token lapsed first) would have
  been the draft's reply instead, if the draft answers it (`pushes_saved`);
- a draft hand-off rule matching an event that did not lead to a hand-off adds
  one, estimated at the window's average pushes per hand-off (`pushes_caused`).
The last is an estimate and is labelled so.
"""

import logging
from datetime import UTC, datetime

from bot.history import INBOUND, History
from bot.matcher import Matcher
from bot.rules import Rules
from handoff.conversations import STATUSES, Conversations
from store import key

log = logging.getLogger(__name__)

DRAFT_ID = "~draft"
MAX_EXAMPLES = 10
SCAN_BATCH = 500
READ_BATCH = 1000


def replay(redis, draft: dict, days: int, now: float) -> dict:
    """Replay `draft` (a cleaned rule) over the last `days` days before `now`."""
    since = now - days * 86400
    rules = Rules(redis).all()
    live = Matcher(rules)
    trial = Matcher([*rules, dict(draft, id=DRAFT_ID, enabled=True)])
    handoffs = _handoffs(redis, since)
    average = _pushes_per_handoff(redis, handoffs)

    totals = {
        "days": days,
        "events": 0,
        "events_with_people": 0,
        "answered": 0,
        "newly_answered": 0,
        "taken_from_rules": 0,
        "handoffs_avoided": 0,
        "handoffs_added": 0,
        "pushes_saved": 0,
        "pushes_caused": 0.0,
        "pushes_per_handoff": round(average, 2),
        "examples": [],
    }
    for chat_id in _chats(redis):
        _replay_chat(
            redis, chat_id, since, live, trial, draft, handoffs, average, totals
        )
    totals["pushes_caused"] = round(totals["pushes_caused"], 2)
    totals["pushes_net"] = round(totals["pushes_saved"] - totals["pushes_caused"], 2)
    return totals


def _replay_chat(redis, chat_id, since, live, trial, draft, handoffs, average, out):
    entries = _history(redis, chat_id, since)
    spans = handoffs.get(chat_id, [])
    for position, entry in enumerate(entries):
        if entry["direction"] != INBOUND:
            continue
        event = entry["body"]
        when = entry["time"]
        out["events"] += 1
        # Strictly after: the event that asked for people came before its span.
        if any(span["from"] < when < span["until"] for span in spans):
            out["events_with_people"] += 1
            continue
        one_to_one = (event.get("source") or {}).get("type", "user") == "user"
        at = datetime.fromtimestamp(when, UTC)
        after = trial.match(event, at, fallback=one_to_one)
        if after is None or after.get("id") != DRAFT_ID:
            continue
        before = live.match(event, at, fallback=one_to_one)
        out["answered"] += 1
        if before is None or before["match"]["kind"] == "fallback":
            out["newly_answered"] += 1
        else:
            out["taken_from_rules"] += 1
        if len(out["examples"]) < MAX_EXAMPLES:
            out["examples"].append(
                {"chat_id": chat_id, "time": when, "text": entry.get("text", "")}
            )

        following, next_time = _until_next_inbound(entries, position)
        started = next((s for s in spans if when <= s["from"] < next_time), None)
        if started is not None and not draft.get("handoff"):
            out["handoffs_avoided"] += 1
            out["pushes_saved"] += started["pushes"]
        elif started is None and draft.get("handoff"):
            out["handoffs_added"] += 1
            out["pushes_caused"] += average
        if started is None and not draft.get("handoff"):
            out["pushes_saved"] += sum(
                e.get("billable", 0) for e in following if e.get("origin") == "bot"
            )


def _until_next_inbound(entries, position) -> tuple[list[dict], float]:
    """The outbound entries after `position`, and when the next event came."""
    following = []
    for entry in entries[position + 1 :]:
        if entry["direction"] == INBOUND:
            return following, entry["time"]
        following.append(entry)
    return following, float("inf")


def _chats(redis):
    prefix = key("history", "")
    for name in redis.scan_iter(match=f"{prefix}*", count=SCAN_BATCH):
        yield name[len(prefix) :]


def _history(redis, chat_id, since) -> list[dict]:
    """The chat's entries recorded at `since` or later, oldest first.

    Filtered on each entry's own time, not on stream ids: the ids are Redis's
    clock, the times the desk's.
    """
    history = History(redis)
    rows, after = [], "-"
    while True:
        batch = history.read(chat_id, READ_BATCH, after=after)
        rows += [row for row in batch if row["time"] >= since]
        if len(batch) < READ_BATCH:
            return rows
        after = batch[-1]["id"]


def _handoffs(redis, since) -> dict:
    """Per chat, the spans a conversation was with people, with their pushes."""
    conversations = Conversations(redis)
    spans: dict[str, list[dict]] = {}
    for status in STATUSES:
        for conversation in conversations.many(
            conversations.ids(status, limit=1_000_000)
        ):
            # When people first had the chat; `waiting_since` for one stored
            # before `people_since` was (it moves on transfer and requeue).
            start = conversation["people_since"] or conversation["waiting_since"]
            end = conversation["closed_at"] or float("inf")
            if start is None or end < since:
                continue
            spans.setdefault(conversation["chat_id"], []).append(
                {"from": start, "until": end, "pushes": 0}
            )
    return spans


def _pushes_per_handoff(redis, handoffs) -> float:
    """Billed pushes per hand-off in the window, counted from history."""
    count = sum(len(spans) for spans in handoffs.values())
    if not count:
        return 0.0
    total = 0
    for chat_id, spans in handoffs.items():
        first = min(span["from"] for span in spans)
        for entry in _history(redis, chat_id, first):
            if not entry.get("billable"):
                continue
            for span in spans:
                if span["from"] <= entry["time"] < span["until"]:
                    span["pushes"] += entry["billable"]
                    total += entry["billable"]
    return total / count
