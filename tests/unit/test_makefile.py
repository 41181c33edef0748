"""The Makefile's commands on a machine with nothing set up yet."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_worker_without_redis_url_says_what_is_missing():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}

    done = subprocess.run(
        ["make", "-s", "-o", "install", "worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode != 0
    assert "REDIS_URL" in done.stderr
