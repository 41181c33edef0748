"""The Procfile's worker line names a missing REDIS_URL instead of failing
later on a malformed URL."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_worker_without_redis_url_stops_naming_the_variable():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}

    run = subprocess.run(
        ["sh", "-c", procfile()["worker"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert run.returncode != 0
    assert "REDIS_URL is not set" in run.stderr


def test_procfile_has_the_web_and_worker_processes():
    assert set(procfile()) == {"web", "worker"}
    assert "app:app" in procfile()["web"]
    assert "bot.worker.Worker" in procfile()["worker"]
