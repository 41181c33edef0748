"""The worker's sweeper: one failing task does not starve the others."""

from bot import worker


def test_a_failing_task_does_not_skip_the_rest_of_the_sweep(runtime, monkeypatch):
    ran = []

    def broken(_runtime):
        raise RuntimeError("an acknowledgement LINE refuses")

    monkeypatch.setattr(worker.handoff_queue, "maintain", broken)
    monkeypatch.setattr(worker.quota, "maybe_sync", lambda rt: ran.append("quota"))
    monkeypatch.setattr(worker.tap, "upkeep", lambda rt: ran.append("tap"))

    worker.sweep_once(runtime)

    assert ran == ["quota", "tap"]
