"""The Procfile's worker line: it names a missing REDIS_URL, and waits for a
Redis that is down instead of crashing."""

import os
import shutil
import subprocess
import sys
import time
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


def test_a_worker_started_while_redis_is_down_waits_for_it(tmp_path):
    """`rq worker` gives up at once when Redis is down; the Procfile's first
    step waits until Redis answers, then hands over."""
    from bench.common import free_port

    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    waiting = subprocess.Popen(
        [sys.executable, "-m", "bot.worker", "wait", url],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        assert waiting.poll() is None  # still waiting, not crashed
        server = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(port), "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        try:
            assert waiting.wait(timeout=20) == 0
        finally:
            server.terminate()
            server.wait(5)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert "waiting" in waiting.stderr.read()
