"""The economics benchmark's trace and replay (small, so the suite stays quick)."""

from bench import economics


def test_reference_trace_has_the_shape_the_issue_asks_for():
    trace = economics.generate(economics.TraceConfig(conversations=200, seed=11))

    shape = economics.describe(trace)

    assert round(shape["first_answer_median"], 6) == 90
    assert round(shape["later_answer_median"], 6) == 30
    assert shape["exchanges_mean"] == 2.5
    delays = sorted(c.exchanges[0].answer_delay for c in trace)
    assert delays[20] < 60 < 120 < delays[-20]  # a spread, not one value
    bubbles = {e.bubbles for c in trace for e in c.exchanges}
    assert bubbles == {1, 2, 3}


def test_same_seed_same_trace():
    cfg = economics.TraceConfig(conversations=20, seed=3)

    assert economics.generate(cfg) == economics.generate(cfg)


def _run(policy_name, conversations=2):
    cfg = economics.TraceConfig(conversations=conversations, seed=5)
    policy = next(p for p in economics.POLICIES if p.name == policy_name)
    return economics.Replay(economics.generate(cfg), cfg, policy).run()


def test_push_every_message_bills_every_agent_bubble():
    result = _run("push every message")

    assert result["billable"] == result["agent_bubbles"] > 0
    assert result["free_share"] == 0


def test_free_only_replay_bills_nothing_and_delivers_every_answer():
    result = _run("free-only")

    assert result["billable"] == 0
    assert result["undelivered"] == 0
    assert result["delivered"] == result["agent_bubbles"] > 0
