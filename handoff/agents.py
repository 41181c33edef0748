"""Accounts of the people who work the desk: agents and admins.

An account is a Redis hash at `account:{username}` plus the username in the
set `accounts`. Passwords are kept only as Argon2 hashes. Every account has an
`epoch` that moves on when its password changes or it is disabled: sessions and
API tokens remember the epoch they were issued under, so moving it ends them
all at once without finding them one by one.
"""

import logging
import re
import secrets
import time
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

import store

log = logging.getLogger(__name__)

# KEYS[1] the set of usernames, KEYS[2] the account's hash; ARGV[1] the
# username, then the hash's fields and values. Claims the name and writes the
# account together, or does nothing.
CREATE_SCRIPT = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
return 1
"""

ROLES = ("agent", "admin")
LANGUAGES = ("ja", "en")
USERNAME = re.compile(r"[a-z0-9._-]{3,32}")
MIN_PASSWORD = 10
#: Argon2 refuses nothing, but hashing megabytes on every login is a denial of
#: service; no real password is longer.
MAX_PASSWORD = 1024
MAX_DISPLAY_NAME = 64

_hasher = PasswordHasher()
#: Checked against when the username is unknown, so that an unknown username
#: and a wrong password take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class InvalidAccount(ValueError):
    """A field of an account is not acceptable; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class AccountExists(Exception):
    """An account with this username already exists."""


class UnknownAccount(LookupError):
    """No account has this username."""


def _now_iso(clock) -> str:
    return datetime.fromtimestamp(clock(), UTC).isoformat(timespec="seconds")


def check_username(username) -> str:
    """`username` if it is 3–32 of `a-z 0-9 . _ -`, else InvalidAccount."""
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise InvalidAccount(
            "username",
            "username must be 3 to 32 characters of a-z, 0-9, '.', '_' or '-'",
        )
    return username


def check_password(password) -> str:
    """`password` if it is 10 to 1024 characters, else InvalidAccount."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidAccount(
            "password", f"password must be at least {MIN_PASSWORD} characters"
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidAccount(
            "password", f"password must be at most {MAX_PASSWORD} characters"
        )
    return password


def _check_role(role) -> str:
    if role not in ROLES:
        raise InvalidAccount("role", f"role must be one of {', '.join(ROLES)}")
    return role


def _check_language(language) -> str:
    if language not in LANGUAGES:
        raise InvalidAccount(
            "language", f"language must be one of {', '.join(LANGUAGES)}"
        )
    return language


def _check_display_name(display_name) -> str:
    if not isinstance(display_name, str) or not display_name.strip():
        raise InvalidAccount("display_name", "display_name must not be empty")
    display_name = display_name.strip()
    if len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidAccount(
            "display_name",
            f"display_name must be at most {MAX_DISPLAY_NAME} characters",
        )
    return display_name


def _check_active(active) -> bool:
    if not isinstance(active, bool):
        raise InvalidAccount("active", "active must be true or false")
    return active


class Agents:
    """The desk's accounts in Redis (agents and admins alike)."""

    def __init__(self, redis, *, clock=time.time):
        self.redis = redis
        self.clock = clock

    def _key(self, username: str) -> str:
        return store.key("account", username)

    def create(
        self,
        username: str,
        password: str,
        role: str,
        display_name: str,
        language: str = "ja",
    ) -> dict:
        """Create an active account; InvalidAccount or AccountExists otherwise."""
        username = check_username(username)
        check_password(password)
        role = _check_role(role)
        display_name = _check_display_name(display_name)
        language = _check_language(language)

        # Hash first (the slow part), then claim the name and write the
        # account in one step: no other process may see a name without its
        # account, or a login there would fail while this one finishes.
        now = _now_iso(self.clock)
        fields = {
            "username": username,
            "display_name": display_name,
            "role": role,
            "language": language,
            "active": "1",
            "password_hash": _hasher.hash(password),
            "epoch": "1",
            "created_at": now,
            "updated_at": now,
        }
        pairs = [item for pair in fields.items() for item in pair]
        created = self.redis.eval(
            CREATE_SCRIPT,
            2,
            store.key("accounts"),
            self._key(username),
            username,
            *pairs,
        )
        if not created:
            raise AccountExists(username)
        log.info("agents: created %s (%s)", username, role)
        return self.get(username)

    def _raw(self, username) -> dict | None:
        if not isinstance(username, str) or not USERNAME.fullmatch(username):
            return None
        data = self.redis.hgetall(self._key(username))
        return data or None

    def get(self, username: str) -> dict | None:
        """The account without its password hash, or None."""
        data = self._raw(username)
        return _public(data) if data else None

    def epoch(self, username: str) -> str | None:
        """The account's current epoch (see the module docstring), or None."""
        data = self._raw(username)
        return data.get("epoch") if data else None

    def list(self) -> list[dict]:
        """Every account, sorted by username."""
        names = sorted(self.redis.smembers(store.key("accounts")))
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._key(name))
        return [_public(data) for data in pipe.execute() if data]

    def authenticate(self, username, password) -> dict | None:
        """The active account whose password this is, else None.

        Unknown, disabled and wrong-password all answer None, in about the same
        time, so a caller cannot tell which usernames exist.
        """
        data = self._raw(username) if isinstance(password, str) else None
        if isinstance(password, str) and len(password) > MAX_PASSWORD:
            data = None
        stored = data["password_hash"] if data else _DUMMY_HASH
        try:
            _hasher.verify(stored, password if data else "x")
        except (VerificationError, InvalidHashError):
            return None
        if not data or data.get("active") != "1":
            return None

        if _hasher.check_needs_rehash(stored):
            self.redis.hset(
                self._key(username), "password_hash", _hasher.hash(password)
            )
            log.info("agents: rehashed the password of %s", username)
        return _public(data)

    def update(
        self,
        username: str,
        *,
        display_name=None,
        role=None,
        language=None,
        active=None,
    ) -> dict:
        """Change the given fields; UnknownAccount or InvalidAccount otherwise.

        Disabling moves the epoch on, which ends the account's sessions and
        tokens.
        """
        data = self._raw(username)
        if not data:
            raise UnknownAccount(username)
        changes = {}
        if display_name is not None:
            changes["display_name"] = _check_display_name(display_name)
        if role is not None:
            changes["role"] = _check_role(role)
        if language is not None:
            changes["language"] = _check_language(language)
        if active is not None:
            changes["active"] = "1" if _check_active(active) else "0"
        if not changes:
            return _public(data)

        changes["updated_at"] = _now_iso(self.clock)
        pipe = self.redis.pipeline()
        pipe.hset(self._key(username), mapping=changes)
        if changes.get("active") == "0" and data.get("active") == "1":
            pipe.hincrby(self._key(username), "epoch", 1)
        pipe.execute()
        log.info("agents: updated %s (%s)", username, ", ".join(sorted(changes)))
        return self.get(username)

    def disable(self, username: str) -> dict:
        """Disable the account and end its sessions and tokens."""
        return self.update(username, active=False)

    def set_password(self, username: str, password: str) -> dict:
        """Replace the password and end the account's sessions and tokens."""
        check_password(password)
        if not self._raw(username):
            raise UnknownAccount(username)
        pipe = self.redis.pipeline()
        pipe.hset(
            self._key(username),
            mapping={
                "password_hash": _hasher.hash(password),
                "updated_at": _now_iso(self.clock),
            },
        )
        pipe.hincrby(self._key(username), "epoch", 1)
        pipe.execute()
        log.info("agents: password of %s replaced", username)
        return self.get(username)

    def active_admins(self) -> "list[str]":
        """Usernames of the active admins."""
        return [
            a["username"] for a in self.list() if a["role"] == "admin" and a["active"]
        ]


def _public(data: dict) -> dict:
    return {
        "username": data["username"],
        "display_name": data.get("display_name", data["username"]),
        "role": data.get("role", "agent"),
        "language": data.get("language", "ja"),
        "active": data.get("active") == "1",
        "created_at": data.get("created_at"),
        "updated_at": data.get("updated_at"),
    }


def ensure_admin(redis, username: str, password: str) -> dict | None:
    """Create the admin `username` when the desk has no admin at all.

    The bootstrap for a fresh desk (`ADMIN_USERNAME`/`ADMIN_PASSWORD` at
    start): once any admin exists it does nothing, so changing the variables
    later never resets a password. Returns the account created, else None;
    a username or password the desk would refuse stops the start
    (`ConfigError` naming the variable).
    """
    agents = Agents(redis)
    if any(a["role"] == "admin" for a in agents.list()):
        log.debug("agents: an admin exists; bootstrap admin not needed")
        return None
    try:
        account = agents.create(username, password, "admin", username, "ja")
    except AccountExists:
        existing = agents.get(username)
        if existing is None or existing["role"] == "admin":
            # Another process of this desk is creating it, or just has.
            return None
        log.warning(
            "agents: ADMIN_USERNAME %s is taken by a non-admin account; "
            "no bootstrap admin created",
            username,
        )
        return None
    except InvalidAccount as exc:
        from config import ConfigError

        variable = "ADMIN_USERNAME" if exc.field == "username" else "ADMIN_PASSWORD"
        raise ConfigError(f"{variable}: {exc.message}") from None
    log.info("agents: bootstrap admin %s created", username)
    return account
