"""The desk's settings: one document, its keys registered by the areas that use them.

An area calls `register_setting(name, default, validate)` at import; the
document is every registered key with its stored value or its default.
Values are stored JSON-encoded in the Redis hash `settings`. A stored value
that no longer validates (a rule tightened since it was saved) reads as the
default, with a warning, so one bad value cannot take the desk down.
"""

import json
import logging
from dataclasses import dataclass
from typing import Any

import store

log = logging.getLogger(__name__)

HASH = store.key("settings")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    validate: Any
    description: str = ""


_registry: dict[str, Setting] = {}


def register_setting(name: str, default, validate, description: str = "") -> None:
    """Add the key `name` to the settings document.

    `validate(value)` returns the cleaned value or raises ValueError whose
    message tells the admin what is expected. Registering one name twice with
    a different default is a programming error (two areas claiming one key).
    """
    known = _registry.get(name)
    if known and known.default != default:
        raise ValueError(f"setting {name!r} is already registered")
    _registry[name] = Setting(name, default, validate, description)


def registered() -> dict[str, Setting]:
    """The registered settings by name."""
    return dict(_registry)


def _decode(setting: Setting, raw):
    if raw is None:
        return setting.default
    try:
        return setting.validate(json.loads(raw))
    except (ValueError, TypeError):
        log.warning(
            "settings: stored %s is no longer valid; using default", setting.name
        )
        return setting.default


def get_settings(redis) -> dict:
    """The whole document: every registered key with its current value."""
    names = sorted(_registry)
    raws = redis.hmget(HASH, names) if names else []
    return {
        name: _decode(_registry[name], raw)
        for name, raw in zip(names, raws, strict=True)
    }


def get_setting(redis, name: str):
    """The current value of one registered key (KeyError when not registered)."""
    setting = _registry[name]
    return _decode(setting, redis.hget(HASH, name))


class InvalidSetting(ValueError):
    """A value given for `field` was refused; `message` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def update_settings(redis, changes: dict) -> tuple[dict, dict]:
    """Validate and store `changes`; returns (before, after) of the changed keys.

    A key given as None returns to its default. Every key is validated before
    anything is written, so a refused document changes nothing.
    """
    cleaned = {}
    for name, value in changes.items():
        setting = _registry.get(name)
        if setting is None:
            raise InvalidSetting(name, f"unknown setting {name!r}")
        if value is None:
            cleaned[name] = None
            continue
        try:
            cleaned[name] = setting.validate(value)
        except (ValueError, TypeError) as exc:
            raise InvalidSetting(
                name, str(exc) or f"invalid value for {name}"
            ) from None

    current = get_settings(redis)
    before, after = {}, {}
    pipe = redis.pipeline()
    for name, value in cleaned.items():
        new = _registry[name].default if value is None else value
        if value is None:
            pipe.hdel(HASH, name)
        else:
            pipe.hset(HASH, name, json.dumps(value, ensure_ascii=False))
        if new != current[name]:
            before[name], after[name] = current[name], new
    pipe.execute()
    return before, after


def integer(low: int, high: int):
    """A validator for whole numbers from `low` to `high` (booleans refused)."""

    def validate(value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number from {low} to {high}")
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}, got {value!r}")
        return value

    return validate


def boolean(value):
    """A validator for true/false."""
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value
