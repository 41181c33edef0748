"""LINE credentials come as a pair: both (a channel) or neither (the simulator)."""

import pytest

from config import Config, ConfigError


def development(**environ):
    return Config.from_env({"TSUNAGI_ENV": "development", **environ}, dotenv=False)


@pytest.mark.parametrize(
    "given, missing",
    [
        ({"LINE_CHANNEL_ACCESS_TOKEN": "token"}, "LINE_CHANNEL_SECRET"),
        ({"LINE_CHANNEL_SECRET": "secret"}, "LINE_CHANNEL_ACCESS_TOKEN"),
    ],
)
def test_half_a_line_account_is_refused_naming_the_missing_half(given, missing):
    """An empty channel secret would let anyone sign webhooks that the bot
    answers through the real channel."""
    with pytest.raises(ConfigError, match=f"^{missing} is not set"):
        development(**given)


def test_neither_runs_on_the_simulator_and_both_on_the_channel():
    assert development().simulator is True

    config = development(LINE_CHANNEL_SECRET="s", LINE_CHANNEL_ACCESS_TOKEN="t")

    assert config.simulator is False
    assert config.line_channel_secret == "s"
