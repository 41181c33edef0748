"""The block `make run` prints: URLs to open and how to log in."""

import pytest

from config import Config
from run import banner


@pytest.fixture
def config():
    cfg = Config(env="development", port=8123)
    cfg.check()
    cfg.admin_username = "admin"
    cfg.admin_password = "generated-password"
    return cfg


def test_block_names_the_phone_the_panel_and_a_generated_password(config):
    config.extra["demo_password"] = True
    block = banner(config, admin_ready=True)
    assert "phone:  http://127.0.0.1:8123/simulator" in block
    assert "panel:  http://127.0.0.1:8123/" in block
    assert "admin:  admin / generated-password" in block


def test_password_the_operator_chose_is_not_printed(config):
    block = banner(config, admin_ready=True)
    assert "generated-password" not in block
    assert "ADMIN_PASSWORD" in block


def test_earlier_admin_keeps_its_password_and_the_block_says_so(config):
    config.extra["demo_password"] = True
    block = banner(config, admin_ready=False)
    assert "generated-password" not in block
    assert "earlier admin" in block


def test_wildcard_bind_is_shown_as_loopback(config, monkeypatch):
    monkeypatch.setenv("HOST", "0.0.0.0")  # noqa: S104 (what is shown, not bound)
    assert "http://127.0.0.1:8123/simulator" in banner(config, admin_ready=True)
