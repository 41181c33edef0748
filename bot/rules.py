"""Reply rules: the model, its validation, Redis storage and YAML exchange.

A rule is what admins edit to make the bot answer: which events it matches,
the LINE message objects it replies with, whether it asks for a person, when
it applies and which tags it adds to the user. Rules live in Redis, one hash
per rule (`rule:{id}`), their ids in the set `rules`, a counter
`rules:version` that every change increments so that each process knows when
to rebuild its matcher (see bot/matcher.py), and the change log
`rules:changes` that lets a process reload only the rules that changed.
"""

import json
import logging
import threading
import weakref
from datetime import UTC, datetime
from pathlib import Path

import re2
import redis
import yaml
from ulid import ULID

from bot.messages import validate_messages
from bot.normalize import normalize
from bot.schedule import validate_schedule
from store import key

log = logging.getLogger(__name__)

#: Match kinds, most specific first: on equal priority an earlier kind wins.
KINDS = ("exact", "contains", "regex", "postback", "event", "fallback")

#: Events a rule may answer: LINE event types that carry a reply token, and
#: message types other than text (a text message is matched by its words).
EVENT_NAMES = (
    "follow",
    "join",
    "memberJoined",
    "beacon",
    "videoPlayComplete",
    "accountLink",
    "membership",
    "sticker",
    "image",
    "video",
    "audio",
    "file",
    "location",
)
#: Events LINE sends without a reply token: nothing can answer them.
SILENT_EVENTS = ("unfollow", "leave", "memberLeft", "unsend")

FIELDS = ("name", "priority", "enabled", "match", "reply", "handoff", "schedule")
OPTIONAL_FIELDS = ("tags",)
#: Fields the desk writes; accepted in input (a GET body sent back) and ignored.
META_FIELDS = ("id", "created_at", "updated_at", "updated_by", "revision")

DEFAULT_PRIORITY = 100
MAX_PRIORITY = 1_000_000
MAX_NAME = 100
MAX_PATTERNS = 100
MAX_PATTERN = 500
MAX_POSTBACK_DATA = 300  # LINE's limit on a postback action's data
MAX_TAGS = 20
MAX_TAG = 50
MAX_ID = 64

DEFAULTS_FILE = Path(__file__).parent / "default_rules.yml"


#: Writes this process made, per Redis client: a matcher built on the same
#: client rebuilds at once after them instead of at its next version check.
_local_writes: "weakref.WeakKeyDictionary[redis.Redis, int]" = (
    weakref.WeakKeyDictionary()
)
_local_lock = threading.Lock()


def local_writes(redis_client: redis.Redis) -> int:
    """How many rule writes this process made through `redis_client`."""
    return _local_writes.get(redis_client, 0)


def _wrote(redis_client: redis.Redis) -> None:
    with _local_lock:
        _local_writes[redis_client] = _local_writes.get(redis_client, 0) + 1


class RuleInvalid(ValueError):
    """A rule (or a file of rules) that fails validation; `errors` name fields."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class RuleConflict(Exception):
    """The rule changed since the caller read it (its `revision` moved on)."""


def _error(field: str, message: str) -> dict:
    return {"field": field, "message": message}


def validate_rule(data, field: str = "") -> tuple[dict | None, list[dict]]:
    """`(cleaned, errors)` for a rule as an admin wrote it.

    `cleaned` holds every field with defaults filled in (and no meta fields);
    it is None when there are errors. `field` prefixes error fields, e.g.
    "rules[3]" when a whole file is checked.
    """

    def at(name):
        return f"{field}.{name}" if field else name

    if not isinstance(data, dict):
        return None, [_error(field or "body", "must be an object (a rule)")]
    errors = []
    known = set(FIELDS) | set(OPTIONAL_FIELDS) | set(META_FIELDS)
    for name in sorted(set(data) - known):
        errors.append(_error(at(name), "is not a rule field"))

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(_error(at("name"), "is required (a non-empty string)"))
    elif len(name) > MAX_NAME:
        errors.append(_error(at("name"), f"must be at most {MAX_NAME} characters"))

    priority = data.get("priority", DEFAULT_PRIORITY)
    if not _is_int(priority) or not 0 <= priority <= MAX_PRIORITY:
        errors.append(
            _error(at("priority"), f"must be a whole number from 0 to {MAX_PRIORITY}")
        )
    for flag in ("enabled", "handoff"):
        if flag in data and not isinstance(data[flag], bool):
            errors.append(_error(at(flag), "must be true or false"))

    match, match_errors = validate_match(data.get("match"), at("match"))
    errors += match_errors
    errors += validate_messages(data.get("reply"), field=at("reply"))
    schedule, schedule_errors = validate_schedule(data.get("schedule"), at("schedule"))
    errors += schedule_errors
    tags, tag_errors = _validate_tags(data.get("tags", []), at("tags"))
    errors += tag_errors

    if errors:
        return None, errors
    return {
        "name": name.strip(),
        "priority": priority,
        "enabled": data.get("enabled", True),
        "match": match,
        "reply": data["reply"],
        "handoff": data.get("handoff", False),
        "schedule": schedule,
        "tags": tags,
    }, []


def validate_match(match, field: str = "match") -> tuple[dict | None, list[dict]]:
    """`(cleaned, errors)` for a rule's `match` object."""
    if not isinstance(match, dict):
        return None, [_error(field, "is required (an object with a kind)")]
    kind = match.get("kind")
    if kind not in KINDS:
        return None, [
            _error(f"{field}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
        ]

    allowed = {
        "exact": {"kind", "patterns"},
        "contains": {"kind", "patterns"},
        "regex": {"kind", "patterns"},
        "postback": {"kind", "patterns", "prefix"},
        "event": {"kind", "events"},
        "fallback": {"kind"},
    }[kind]
    errors = [
        _error(f"{field}.{name}", f"is not used by kind {kind!r}")
        for name in sorted(set(match) - allowed)
    ]
    cleaned = {"kind": kind}
    if "patterns" in allowed:
        patterns, pattern_errors = _validate_patterns(
            kind, match.get("patterns"), field
        )
        errors += pattern_errors
        cleaned["patterns"] = patterns
    if kind == "postback":
        prefix = match.get("prefix", False)
        if not isinstance(prefix, bool):
            errors.append(_error(f"{field}.prefix", "must be true or false"))
        cleaned["prefix"] = prefix
    if kind == "event":
        events, event_errors = _validate_events(match.get("events"), field)
        errors += event_errors
        cleaned["events"] = events
    return (None, errors) if errors else (cleaned, [])


def _validate_patterns(kind, patterns, field) -> tuple[list, list[dict]]:
    if not isinstance(patterns, list) or not patterns:
        return [], [_error(f"{field}.patterns", "must be a non-empty list of strings")]
    if len(patterns) > MAX_PATTERNS:
        return [], [
            _error(f"{field}.patterns", f"must hold at most {MAX_PATTERNS} patterns")
        ]
    limit = MAX_POSTBACK_DATA if kind == "postback" else MAX_PATTERN
    errors = []
    for index, pattern in enumerate(patterns):
        at = f"{field}.patterns[{index}]"
        if not isinstance(pattern, str) or not pattern:
            errors.append(_error(at, "must be a non-empty string"))
        elif len(pattern) > limit:
            errors.append(_error(at, f"must be at most {limit} characters"))
        elif kind in ("exact", "contains") and not normalize(pattern):
            errors.append(
                _error(
                    at, "has nothing left to match once spaces and marks are removed"
                )
            )
        elif kind == "regex":
            problem = regex_problem(pattern)
            if problem:
                errors.append(_error(at, f"does not compile (RE2 syntax): {problem}"))
    return list(patterns) if not errors else [], errors


def regex_problem(pattern: str) -> str | None:
    """Why RE2 refuses `pattern`, or None when it compiles."""
    try:
        re2.compile(pattern)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return str(detail)
    return None


def _validate_events(events, field) -> tuple[list, list[dict]]:
    if not isinstance(events, list) or not events:
        return [], [_error(f"{field}.events", "must be a non-empty list of events")]
    errors = []
    for index, name in enumerate(events):
        at = f"{field}.events[{index}]"
        if name in SILENT_EVENTS:
            errors.append(_error(at, f"{name!r} carries no reply token to answer with"))
        elif name not in EVENT_NAMES:
            errors.append(
                _error(at, f"must be one of {', '.join(EVENT_NAMES)}, got {name!r}")
            )
    return list(dict.fromkeys(events)) if not errors else [], errors


def _validate_tags(tags, field) -> tuple[list, list[dict]]:
    if not isinstance(tags, list):
        return [], [_error(field, "must be a list of strings")]
    if len(tags) > MAX_TAGS:
        return [], [_error(field, f"must hold at most {MAX_TAGS} tags")]
    errors = []
    for index, tag in enumerate(tags):
        # The same rule the hand-off keeps for user tags (clean_tag there).
        tag = tag.strip() if isinstance(tag, str) else ""
        if not tag or len(tag) > MAX_TAG or not tag.isprintable():
            errors.append(
                _error(
                    f"{field}[{index}]",
                    f"must be 1 to {MAX_TAG} printable characters",
                )
            )
    cleaned = list(dict.fromkeys(tag.strip() for tag in tags)) if not errors else []
    return cleaned, errors


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def valid_id(rule_id) -> bool:
    """Ids are ULIDs when the desk makes them; imported ones may be any slug."""
    return (
        isinstance(rule_id, str)
        and 0 < len(rule_id) <= MAX_ID
        and all(c.isascii() and (c.isalnum() or c in "-_.") for c in rule_id)
    )


def sort_key(rule: dict) -> tuple:
    """Priority first, then the more specific kind, then id: a total order."""
    return (rule["priority"], KINDS.index(rule["match"]["kind"]), rule["id"])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Rules:
    """The rules in Redis. Every write bumps `rules:version` in one transaction."""

    STORED = FIELDS + OPTIONAL_FIELDS + META_FIELDS

    def __init__(self, redis_client: redis.Redis):
        self.redis = redis_client

    # -- reading -----------------------------------------------------------

    def version(self) -> int:
        return int(self.redis.get(key("rules", "version")) or 0)

    def get(self, rule_id: str) -> dict | None:
        if not valid_id(rule_id):
            return None
        return _decode(self.redis.hgetall(key("rule", rule_id)))

    def all(self) -> list[dict]:
        """Every rule, in the order the matcher tries them."""
        return self.snapshot()[1]

    def snapshot(self) -> tuple[int, list[dict]]:
        """`(version, rules)` read in one atomic step.

        One server-side script returns every rule as one JSON document: with
        10,000 rules that is one reply to parse instead of 10,000, which keeps
        a process's rebuild well inside the second a change may take.
        """
        version, document = self.redis.eval(
            _SNAPSHOT, 2, key("rules"), key("rules", "version"), key("rule", "")
        )
        rules = [_with_defaults(rule) for rule in json.loads(document)]
        return int(version or 0), sorted(rules, key=sort_key)

    def changes_since(self, version: int) -> tuple[int, dict] | None:
        """`(new_version, {id: rule or None})` changed after `version`.

        None when the change log no longer reaches back that far (the caller
        then reads everything). A deleted rule maps to None. Rules are read
        after the log, so they are at least as new as `new_version`.
        """
        pipe = self.redis.pipeline(transaction=False)
        pipe.zrange(CHANGES, 0, 0, withscores=True)
        pipe.zrangebyscore(CHANGES, f"({version}", "+inf", withscores=True)
        oldest, entries = pipe.execute()
        if not entries or not oldest or oldest[0][1] > version:
            return None
        new_version = int(max(score for _, score in entries))
        ids = sorted({member.split(":", 1)[1] for member, _ in entries})
        pipe = self.redis.pipeline(transaction=False)
        for rule_id in ids:
            pipe.hgetall(key("rule", rule_id))
        return new_version, dict(zip(ids, map(_decode, pipe.execute()), strict=True))

    # -- writing -----------------------------------------------------------

    def create(self, data: dict, actor: str = "system") -> dict:
        """Store a new rule (validated); returns it with its id. Raises
        RuleInvalid."""
        cleaned = _cleaned_or_raise(data)
        rule_id = data.get("id") or str(ULID())
        if not valid_id(rule_id):
            raise RuleInvalid([_error("id", "must be 1-64 letters, digits, - _ .")])
        now = _now()
        rule = {"id": rule_id, **cleaned, "created_at": now, "updated_at": now}
        rule |= {"updated_by": actor, "revision": 1}
        with self.redis.pipeline() as pipe:
            pipe.watch(key("rule", rule_id))
            if pipe.exists(key("rule", rule_id)):
                raise RuleConflict(f"rule {rule_id} already exists")
            pipe.multi()
            self._write(pipe, rule)
            pipe.execute()
        _wrote(self.redis)
        log.info("rules: %s created by %s", rule_id, actor)
        return rule

    def update(self, rule_id: str, data: dict, actor: str = "system"):
        """Replace rule `rule_id`; returns `(before, after)`, or None if absent.

        With `revision` in `data`, refuses (RuleConflict) when the stored rule
        has moved on, so two admins editing at once do not lose each other's
        work silently.
        """
        cleaned = _cleaned_or_raise(data)
        rule_key = key("rule", rule_id)
        with self.redis.pipeline() as pipe:
            pipe.watch(rule_key)
            before = _decode(pipe.hgetall(rule_key)) if valid_id(rule_id) else None
            if before is None:
                return None
            expected = data.get("revision")
            if expected is not None and (
                isinstance(expected, bool) or not isinstance(expected, int)
            ):
                raise RuleInvalid([_error("revision", "must be a whole number")])
            if expected is not None and expected != before["revision"]:
                raise RuleConflict(
                    f"rule {rule_id} is at revision {before['revision']}, "
                    f"not {expected!r}"
                )
            after = {
                **before,
                **cleaned,
                "updated_at": _now(),
                "updated_by": actor,
                "revision": before["revision"] + 1,
            }
            pipe.multi()
            self._write(pipe, after)
            pipe.execute()
        _wrote(self.redis)
        log.info("rules: %s updated by %s", rule_id, actor)
        return before, after

    def delete(self, rule_id: str, actor: str = "system") -> dict | None:
        """Remove rule `rule_id`; returns what it was, or None if absent."""
        before = self.get(rule_id)
        if before is None:
            return None
        pipe = self.redis.pipeline()
        pipe.delete(key("rule", rule_id))
        pipe.srem(key("rules"), rule_id)
        _bump(pipe, [rule_id])
        removed = pipe.execute()[0]
        _wrote(self.redis)
        if not removed:
            return None
        log.info("rules: %s deleted by %s", rule_id, actor)
        return before

    def apply(self, plan: "ImportPlan", actor: str = "import") -> None:
        """Carry out an import plan in one transaction (one version bump).

        Refuses (RuleConflict, nothing written) when a rule the plan touches
        changed after the plan was made — an edit in the console meanwhile
        would otherwise be overwritten silently.
        """
        now = _now()
        touched = [r["id"] for r in plan.create + plan.delete]
        touched += [before["id"] for before, _ in plan.update]
        with self.redis.pipeline() as pipe:
            pipe.watch(*[key("rule", rule_id) for rule_id in touched])
            expected = {r["id"]: None for r in plan.create}
            expected |= {r["id"]: r["revision"] for r in plan.delete}
            expected |= {b["id"]: b["revision"] for b, _ in plan.update}
            for rule_id, revision in expected.items():
                stored = pipe.hget(key("rule", rule_id), "revision")
                if (None if stored is None else int(stored)) != revision:
                    raise RuleConflict(
                        f"rule {rule_id} changed since the import was planned; "
                        "run it again"
                    )
            pipe.multi()
            for rule in plan.create:
                stored = {**rule, "created_at": now, "updated_at": now}
                stored |= {"updated_by": actor, "revision": 1}
                self._write(pipe, stored, bump=False)
            for before, after in plan.update:
                stored = {**before, **after, "updated_at": now, "updated_by": actor}
                stored["revision"] = before["revision"] + 1
                self._write(pipe, stored, bump=False)
            for rule in plan.delete:
                pipe.delete(key("rule", rule["id"]))
                pipe.srem(key("rules"), rule["id"])
            changed = [r["id"] for r in plan.create + plan.delete]
            _bump(pipe, changed + [after["id"] for _, after in plan.update])
            try:
                pipe.execute()
            except redis.WatchError:
                raise RuleConflict(
                    "the rules changed while the import was applied; run it again"
                ) from None
        _wrote(self.redis)
        log.info(
            "rules: import by %s: %d created, %d updated, %d deleted",
            actor,
            len(plan.create),
            len(plan.update),
            len(plan.delete),
        )

    def _write(self, pipe, rule: dict, bump: bool = True) -> None:
        rule_key = key("rule", rule["id"])
        pipe.delete(rule_key)
        pipe.hset(rule_key, mapping=_encode(rule))
        pipe.sadd(key("rules"), rule["id"])
        if bump:
            _bump(pipe, [rule["id"]])


def _cleaned_or_raise(data) -> dict:
    cleaned, errors = validate_rule(data)
    if errors:
        raise RuleInvalid(errors)
    return cleaned


def _encode(rule: dict) -> dict:
    return {
        name: json.dumps(rule[name], ensure_ascii=False)
        for name in Rules.STORED
        if name in rule
    }


def _decode(stored: dict) -> dict | None:
    if not stored:
        return None
    return _with_defaults({name: json.loads(v) for name, v in stored.items()})


def _with_defaults(rule: dict) -> dict:
    rule.setdefault("tags", [])
    rule.setdefault("schedule", None)
    return rule


#: The change log: members "{version}:{rule id}" scored by version, so that a
#: process can reload only what changed since the version it has.
CHANGES = key("rules", "changes")
CHANGES_KEPT = 20_000

_BUMP = """
local version = redis.call('INCR', KEYS[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[2], version, version .. ':' .. ARGV[i])
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[1]) - 1)
return version
"""


def _bump(pipe, rule_ids: list[str]) -> None:
    """Queue the version increment and its change-log entries on `pipe`."""
    pipe.eval(_BUMP, 2, key("rules", "version"), CHANGES, str(CHANGES_KEPT), *rule_ids)


#: Every rule hash as one JSON array, with the version, atomically. Field
#: values are JSON already (see `_encode`) and names are plain words, so the
#: document is assembled without decoding anything.
_SNAPSHOT = """
local ids = redis.call('SMEMBERS', KEYS[1])
local rules = {}
for _, id in ipairs(ids) do
  local flat = redis.call('HGETALL', ARGV[1] .. id)
  if #flat > 0 then
    local fields = {}
    for i = 1, #flat, 2 do
      fields[#fields + 1] = '"' .. flat[i] .. '":' .. flat[i + 1]
    end
    rules[#rules + 1] = '{' .. table.concat(fields, ',') .. '}'
  end
end
return {redis.call('GET', KEYS[2]) or '0', '[' .. table.concat(rules, ',') .. ']'}
"""


# -- YAML import and export --------------------------------------------------

#: The fields a file carries; the desk's bookkeeping stays out of it.
EXPORTED = ("id",) + FIELDS + OPTIONAL_FIELDS


def export_yaml(rules: list[dict]) -> str:
    """The rules as a YAML document that `parse_yaml` reads back unchanged."""
    exported = []
    for rule in rules:
        item = {name: rule[name] for name in EXPORTED if name in rule}
        if item.get("schedule") is None:
            item.pop("schedule", None)
        if not item.get("tags"):
            item.pop("tags", None)
        exported.append(item)
    return yaml.safe_dump(
        {"rules": exported}, allow_unicode=True, sort_keys=False, width=88
    )


def parse_yaml(text: str) -> list[dict]:
    """Validated rules from a YAML document; raises RuleInvalid naming fields
    such as `rules[2].match.patterns[0]`."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        raise RuleInvalid([_error(where, f"is not valid YAML: {exc}")]) from exc
    if isinstance(document, dict):
        document = document.get("rules")
    if not isinstance(document, list):
        raise RuleInvalid([_error("rules", "must be a list of rules")])

    rules, errors, ids, names = [], [], set(), set()
    for index, data in enumerate(document):
        at = f"rules[{index}]"
        cleaned, rule_errors = validate_rule(data, field=at)
        errors += rule_errors
        if cleaned is None:
            continue
        rule_id = data.get("id")
        if rule_id is not None:
            if not valid_id(rule_id):
                errors.append(_error(f"{at}.id", "must be 1-64 letters, digits, - _ ."))
            elif rule_id in ids:
                errors.append(_error(f"{at}.id", f"repeats id {rule_id!r}"))
            ids.add(rule_id)
            cleaned["id"] = rule_id
        if cleaned["name"] in names:
            errors.append(_error(f"{at}.name", f"repeats name {cleaned['name']!r}"))
        names.add(cleaned["name"])
        rules.append(cleaned)
    if errors:
        raise RuleInvalid(errors)
    return rules


class ImportPlan:
    """What an import would change: rules to create, update and delete."""

    def __init__(self, create, update, delete, unchanged):
        self.create = create
        self.update = update
        self.delete = delete
        self.unchanged = unchanged

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)

    def describe(self) -> list[str]:
        """One line per change, for a person to read before applying."""
        lines = [f"+ {r['id']}  {r['name']}" for r in self.create]
        for before, after in self.update:
            changed = [
                name for name in EXPORTED[1:] if before.get(name) != after.get(name)
            ]
            lines.append(f"~ {before['id']}  {after['name']}  ({', '.join(changed)})")
            # What each field becomes, so a dry run shows the new words too.
            for name in changed:
                old, new = _shown(before.get(name)), _shown(after.get(name))
                lines.append(f"    {name}: {old} -> {new}")
        lines += [f"- {r['id']}  {r['name']}" for r in self.delete]
        return lines


def _shown(value, width: int = 70) -> str:
    """`value` as compact JSON on one line, cut to `width` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def plan_import(existing: list[dict], incoming: list[dict], replace: bool = False):
    """The changes that make the stored rules match a file.

    A rule in the file is the stored rule with its `id`, else the stored rule
    with its `name`, else new. With `replace`, stored rules the file does not
    mention are deleted; without, they stay.
    """
    by_id = {rule["id"]: rule for rule in existing}
    by_name = {rule["name"]: rule for rule in existing}
    create, update, seen, unchanged = [], [], set(), 0
    for rule in incoming:
        before = by_id.get(rule.get("id")) or (
            None if rule.get("id") else by_name.get(rule["name"])
        )
        if before is None:
            create.append({**rule, "id": rule.get("id") or str(ULID())})
            continue
        seen.add(before["id"])
        after = {**rule, "id": before["id"]}
        if all(before.get(name) == after.get(name) for name in EXPORTED):
            unchanged += 1
        else:
            update.append((before, after))
    delete = [r for r in existing if r["id"] not in seen] if replace else []
    return ImportPlan(create, update, delete, unchanged)


# -- the shipped defaults ----------------------------------------------------


def default_rules() -> list[dict]:
    """The rules Tsunagi ships with (bot/default_rules.yml), validated."""
    return parse_yaml(DEFAULTS_FILE.read_text(encoding="utf-8"))


def seed_defaults(redis_client: redis.Redis) -> bool:
    """Load the shipped rules when the desk has never had any; True if loaded.

    "Never" is the absence of `rules:version`: an admin who deletes every rule
    keeps an empty rule set rather than getting the defaults back. Safe to
    call from many processes at once: one of them seeds.
    """
    version_key = key("rules", "version")
    if redis_client.exists(version_key):
        return False
    rules = default_rules()
    now = _now()
    with redis_client.pipeline() as pipe:
        try:
            pipe.watch(version_key, key("rules"))
            if pipe.exists(version_key) or pipe.scard(key("rules")):
                return False
            pipe.multi()
            for rule in rules:
                stored = {**rule, "created_at": now, "updated_at": now}
                stored |= {"updated_by": "defaults", "revision": 1}
                rule_key = key("rule", rule["id"])
                pipe.hset(rule_key, mapping=_encode(stored))
                pipe.sadd(key("rules"), rule["id"])
            _bump(pipe, [rule["id"] for rule in rules])
            pipe.execute()
        except redis.WatchError:
            return False
    _wrote(redis_client)
    log.info("rules: %d default rules loaded", len(rules))
    return True
