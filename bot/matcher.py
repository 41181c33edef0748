"""The compiled rule index: which rule answers an event, without scanning rules.

`Matcher(rules)` is built once per rules version and then only read:
exact patterns in a dict, contains patterns in one Aho–Corasick automaton
(both over normalized text), every regex in one RE2 set (compiled once, linear
time), postback data in a dict plus a prefix table, event rules in a dict.
A message costs one pass over its text per structure, whatever the number of
rules. `Rulebook` keeps one matcher per process and rebuilds it when
`rules:version` moves, checking at most every `CHECK_INTERVAL` seconds, so
every web and worker process answers from a change within a second.
"""

import logging
import threading
import time
import weakref

import ahocorasick
import re2
import redis

from bot.normalize import normalize, normalize_with_gaps, width_folded, words_fit
from bot.rules import Rules, local_writes, seed_defaults, sort_key
from bot.schedule import compile_schedule

log = logging.getLogger(__name__)

#: Seconds between two looks at `rules:version` in one process.
CHECK_INTERVAL = 0.5

#: Memory RE2 may use for the set of all regex rules (its DFA cache).
REGEX_SET_MEMORY = 256 << 20


def event_text(event: dict) -> str | None:
    """The words of a text message event, else None."""
    message = event.get("message") or {}
    if event.get("type") == "message" and message.get("type") == "text":
        return message.get("text") or ""
    return None


def event_name(event: dict) -> str | None:
    """What an `event` rule calls this event: its type, or its message type."""
    kind = event.get("type")
    if kind == "message":
        return (event.get("message") or {}).get("type")
    return kind


def postback_data(event: dict) -> str | None:
    if event.get("type") != "postback":
        return None
    return (event.get("postback") or {}).get("data", "")


class Matcher:
    """An immutable index over one version of the rules (enabled ones only)."""

    def __init__(self, rules: list[dict], version: int = 0):
        self.version = version
        self.rules = sorted((r for r in rules if r.get("enabled", True)), key=sort_key)
        self.schedules = [compile_schedule(r.get("schedule")) for r in self.rules]
        self.exact: dict[str, list[int]] = {}
        self.postback: dict[str, list[int]] = {}
        self.prefixes: dict[str, list[int]] = {}
        self.events: dict[str, list[int]] = {}
        self.fallbacks: list[int] = []
        self.contains = ahocorasick.Automaton()
        self.regex_rank: list[int] = []
        regexes = []

        for rank, rule in enumerate(self.rules):
            match = rule["match"]
            kind = match["kind"]
            if kind == "exact":
                for pattern in match["patterns"]:
                    self.exact.setdefault(normalize(pattern), []).append(rank)
            elif kind == "contains":
                for pattern in match["patterns"]:
                    self._add_contains(normalize(pattern), rank)
            elif kind == "regex":
                for pattern in match["patterns"]:
                    regexes.append(pattern)
                    self.regex_rank.append(rank)
            elif kind == "postback":
                table = self.prefixes if match.get("prefix") else self.postback
                for data in match["patterns"]:
                    table.setdefault(data, []).append(rank)
            elif kind == "event":
                for name in match["events"]:
                    self.events.setdefault(name, []).append(rank)
            elif kind == "fallback":
                self.fallbacks.append(rank)

        self.prefix_lengths = sorted({len(prefix) for prefix in self.prefixes})
        if len(self.contains):
            self.contains.make_automaton()
        self.regex_set, self.regexes = self._compile_regexes(regexes)

    def _add_contains(self, word: str, rank: int) -> None:
        entry = self.contains.get(word, None)
        if entry is None:
            self.contains.add_word(word, (len(word), [rank]))
        else:
            entry[1].append(rank)

    @staticmethod
    def _compile_regexes(patterns: list[str]):
        """One RE2 set for all patterns; each pattern alone if the set fails."""
        if not patterns:
            return None, []
        options = re2.Options()
        options.max_mem = REGEX_SET_MEMORY
        regex_set = re2.Set.SearchSet(options)
        try:
            for pattern in patterns:
                regex_set.Add(pattern)
            regex_set.Compile()
        except re2.error:
            log.warning("matcher: RE2 set did not compile; regexes run one by one")
            return None, [re2.compile(pattern) for pattern in patterns]
        return regex_set, []

    def candidates(self, event: dict) -> list[int]:
        """Ranks of the rules (other than fallbacks) whose match fits `event`."""
        found = set()
        text = event_text(event)
        if text is not None:
            folded, gaps = normalize_with_gaps(text)
            found.update(self.exact.get(folded, ()))
            if folded and len(self.contains):
                for last, (length, ranks) in self.contains.iter(folded):
                    if words_fit(folded, gaps, last + 1 - length, last + 1):
                        found.update(ranks)
            if self.regex_rank:
                found.update(self._regex_ranks(width_folded(text)))
        data = postback_data(event)
        if data is not None:
            found.update(self.postback.get(data, ()))
            for length in self.prefix_lengths:
                if length > len(data):
                    break
                found.update(self.prefixes.get(data[:length], ()))
        name = event_name(event)
        if name in self.events and text is None:
            found.update(self.events[name])
        return sorted(found)

    def _regex_ranks(self, text: str):
        if self.regex_set is not None:
            return [
                self.regex_rank[index] for index in self.regex_set.Match(text) or ()
            ]
        return [
            self.regex_rank[index]
            for index, regex in enumerate(self.regexes)
            if regex.search(text)
        ]

    def match(self, event: dict, now, *, fallback: bool = True) -> dict | None:
        """The rule that answers `event` at `now`, or None.

        The first candidate in rule order whose schedule holds wins; with no
        candidate, a message event gets the first fallback whose schedule
        holds (unless `fallback` is False).
        """
        for rank in self.candidates(event):
            if self._applies(rank, now):
                return self.rules[rank]
        if fallback and event.get("type") == "message":
            for rank in self.fallbacks:
                if self._applies(rank, now):
                    return self.rules[rank]
        return None

    def _applies(self, rank: int, now) -> bool:
        schedule = self.schedules[rank]
        return schedule is None or schedule.active(now)


class NaiveMatcher:
    """The same decision as `Matcher`, trying every rule in order.

    Patterns are normalized and regexes compiled up front, so the difference
    from `Matcher` is only the scan; kept for the benchmark and as the
    reference the index is tested against.
    """

    def __init__(self, rules: list[dict]):
        self.rules = sorted((r for r in rules if r.get("enabled", True)), key=sort_key)
        self.prepared = []
        for rule in self.rules:
            match = rule["match"]
            kind = match["kind"]
            if kind in ("exact", "contains"):
                patterns = [normalize(p) for p in match["patterns"]]
            elif kind == "regex":
                patterns = [re2.compile(p) for p in match["patterns"]]
            else:
                patterns = match.get("patterns") or match.get("events") or []
            schedule = compile_schedule(rule.get("schedule"))
            self.prepared.append((rule, kind, patterns, schedule))

    def match(self, event: dict, now, *, fallback: bool = True) -> dict | None:
        text = event_text(event)
        folded, gaps = normalize_with_gaps(text) if text is not None else (None, None)
        data = postback_data(event)
        name = event_name(event)
        for rule, kind, patterns, schedule in self.prepared:
            if schedule is not None and not schedule.active(now):
                continue
            if kind == "exact" and folded is not None and folded in patterns:
                return rule
            if kind == "contains" and folded and _contains(folded, gaps, patterns):
                return rule
            if kind == "regex" and text is not None:
                wide = width_folded(text)
                if any(regex.search(wide) for regex in patterns):
                    return rule
            if kind == "postback" and data is not None:
                if rule["match"].get("prefix"):
                    if any(data.startswith(p) for p in patterns):
                        return rule
                elif data in patterns:
                    return rule
            if kind == "event" and text is None and name in patterns:
                return rule
        if fallback and event.get("type") == "message":
            for rule, kind, _, schedule in self.prepared:
                if kind == "fallback" and (schedule is None or schedule.active(now)):
                    return rule
        return None


def _contains(folded: str, gaps: frozenset, patterns: list[str]) -> bool:
    """Whether any pattern occurs in `folded` on word edges (the naive way)."""
    for pattern in patterns:
        start = folded.find(pattern)
        while start != -1:
            if words_fit(folded, gaps, start, start + len(pattern)):
                return True
            start = folded.find(pattern, start + 1)
    return False


class Rulebook:
    """One process's current matcher for one Redis, rebuilt when rules change."""

    def __init__(self, redis_client: redis.Redis, clock=time.monotonic):
        self.redis = redis_client
        self.clock = clock
        self._matcher: Matcher | None = None
        self._checked = float("-inf")
        self._writes = 0
        self._by_id: dict[str, dict] = {}
        self._lock = threading.Lock()

    def _fresh(self) -> bool:
        """True while the last matcher needs no look at the version."""
        return (
            self._matcher is not None
            and self.clock() - self._checked < CHECK_INTERVAL
            and local_writes(self.redis) == self._writes
        )

    def matcher(self) -> Matcher:
        """The matcher for the current rules (seeding the defaults on a new desk).

        Between checks the last matcher is used as it is, unless this process
        changed rules through the same client; when Redis cannot be reached,
        the last one keeps answering.
        """
        if self._fresh():
            return self._matcher
        with self._lock:
            if self._fresh():
                return self._matcher
            try:
                self._refresh()
            except redis.RedisError:
                if self._matcher is None:
                    raise
                log.warning("matcher: cannot read rules version; using the last rules")
            return self._matcher

    def _refresh(self) -> None:
        rules = Rules(self.redis)
        version = rules.version()
        if version == 0:
            seed_defaults(self.redis)
        self._writes = local_writes(self.redis)
        self._checked = self.clock()
        if self._matcher is not None and version == self._matcher.version:
            return

        started = time.perf_counter()
        changes = None
        if self._matcher is not None:
            changes = rules.changes_since(self._matcher.version)
        if changes is None:
            version, current = rules.snapshot()
            self._by_id = {rule["id"]: rule for rule in current}
            how = "all"
        else:
            version, changed = changes
            for rule_id, rule in changed.items():
                if rule is None:
                    self._by_id.pop(rule_id, None)
                else:
                    self._by_id[rule_id] = rule
            how = f"{len(changed)} changed"
        self._matcher = Matcher(list(self._by_id.values()), version)
        log.info(
            "matcher: rules version %d compiled (%d rules, %s read) in %.0f ms",
            version,
            len(self._by_id),
            how,
            (time.perf_counter() - started) * 1000,
        )


_rulebooks: "weakref.WeakKeyDictionary[redis.Redis, Rulebook]" = (
    weakref.WeakKeyDictionary()
)
_rulebooks_lock = threading.Lock()


def rulebook(redis_client: redis.Redis) -> Rulebook:
    """The process's `Rulebook` for `redis_client` (one per client object)."""
    with _rulebooks_lock:
        book = _rulebooks.get(redis_client)
        if book is None:
            book = _rulebooks[redis_client] = Rulebook(redis_client)
        return book
