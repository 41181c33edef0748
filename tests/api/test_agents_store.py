"""`handoff.agents.Agents`: the account store under the API."""

import pytest
from argon2 import PasswordHasher

from handoff import agents as agents_module
from handoff.agents import AccountExists, Agents, InvalidAccount, UnknownAccount


@pytest.fixture
def store(runtime):
    return Agents(runtime.redis)


def test_password_is_stored_as_an_argon2_hash(store, runtime):
    store.create("kenji", "kenji-password", "agent", "Kenji")

    stored = runtime.redis.hget("tsunagi:account:kenji", "password_hash")

    assert stored.startswith("$argon2id$")
    assert "kenji-password" not in stored


def test_login_rehashes_when_the_parameters_change(store, runtime, monkeypatch):
    store.create("kenji", "kenji-password", "agent", "Kenji")
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    monkeypatch.setattr(agents_module, "_hasher", stronger)

    assert store.authenticate("kenji", "kenji-password")

    stored = runtime.redis.hget("tsunagi:account:kenji", "password_hash")
    assert not stronger.check_needs_rehash(stored)
    assert store.authenticate("kenji", "kenji-password")


def test_create_twice_is_refused(store):
    store.create("kenji", "kenji-password", "agent", "Kenji")

    with pytest.raises(AccountExists):
        store.create("kenji", "other-password", "admin", "Other")
    assert store.get("kenji")["role"] == "agent"


@pytest.mark.parametrize("username", ["Kenji", "k", "a" * 33, "ken ji", "けんじ", 7])
def test_usernames_are_lowercase_ascii_of_3_to_32(store, username):
    with pytest.raises(InvalidAccount) as exc:
        store.create(username, "kenji-password", "agent", "Kenji")

    assert exc.value.field == "username"


def test_wrong_password_disabled_and_unknown_all_answer_none(store):
    store.create("kenji", "kenji-password", "agent", "Kenji")
    store.create("mei", "mei-password", "agent", "Mei")
    store.disable("mei")

    assert store.authenticate("kenji", "wrong-password") is None
    assert store.authenticate("mei", "mei-password") is None
    assert store.authenticate("nobody", "kenji-password") is None
    assert store.authenticate("kenji", None) is None


def test_set_password_on_unknown_account_raises(store):
    with pytest.raises(UnknownAccount):
        store.set_password("ghost", "ghost-password")


def test_disabling_moves_the_epoch_but_renaming_does_not(store):
    store.create("kenji", "kenji-password", "agent", "Kenji")
    first = store.epoch("kenji")

    store.update("kenji", display_name="K")
    assert store.epoch("kenji") == first
    store.disable("kenji")

    assert store.epoch("kenji") != first
