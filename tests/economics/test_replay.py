"""Rule replay: a draft measured against the stored traffic, nothing sent."""

DRAFT = {
    "name": "Shipping cost",
    "priority": 30,
    "match": {"kind": "contains", "patterns": ["送料", "shipping"]},
    "reply": [{"type": "text", "text": "送料は全国一律500円です。"}],
}


def _replay(desk, rule=DRAFT, days=30, who="boss"):
    return desk.api("post", "/rules/replay", who, json={"rule": rule, "days": days})


def test_replay_is_for_admins(desk):
    assert _replay(desk, who="aiko").status_code == 403
    assert desk.client.post("/api/v1/rules/replay", json={}).status_code == 401


def test_a_bad_draft_is_refused_naming_the_field(desk):
    bad = dict(DRAFT, match={"kind": "contains", "patterns": []})

    response = _replay(desk, bad)

    assert response.status_code == 422
    assert response.json["field"].startswith("rule.match")


def test_days_outside_the_retention_are_refused(desk):
    response = _replay(desk, days=0)

    assert response.status_code == 422 and response.json["field"] == "days"


def test_draft_counts_the_messages_it_would_have_answered(desk):
    desk.say("送料はいくらですか")
    desk.say("what is shipping to Osaka?")
    desk.say("hello")
    calls = len(desk.line.calls)

    result = _replay(desk).json

    assert result["events"] == 3
    assert result["answered"] == 2
    assert result["newly_answered"] == 2
    assert result["taken_from_rules"] == 0
    assert result["pushes_saved"] == 0 and result["pushes_caused"] == 0
    assert [e["text"] for e in result["examples"]] == [
        "送料はいくらですか",
        "what is shipping to Osaka?",
    ]
    assert len(desk.line.calls) == calls


def test_messages_sent_while_people_answer_are_left_out(desk):
    desk.postback()
    desk.clock.advance(5)
    desk.say("送料はいくらですか")

    result = _replay(desk).json

    assert result["events_with_people"] == 1
    assert result["answered"] == 0


def test_messages_after_an_agent_took_a_bot_conversation_are_left_out(desk):
    """Claimed straight from the bot, the conversation never waited in the
    queue; what the user wrote to the agent is still not the bot's traffic."""
    desk.say("hello")
    claim = f"/conversations/{desk.conversation()['id']}/claim"
    assert desk.api("post", claim, "aiko").status_code == 200
    desk.clock.advance(5)
    desk.say("送料はいくらですか")

    result = _replay(desk).json

    assert result["events_with_people"] == 1
    assert result["answered"] == 0


def _handed_off_and_pushed(desk, text):
    desk.say(text)
    conversation_id = desk.conversation()["id"]
    desk.api("post", f"/conversations/{conversation_id}/claim", "aiko")
    desk.clock.advance(120)
    answer = desk.api(
        "post",
        f"/conversations/{conversation_id}/messages",
        "aiko",
        json={"messages": [{"type": "text", "text": "500 yen"}], "if_expired": "push"},
    )
    assert answer.json["delivery"] == "push"
    desk.clock.advance(30)
    desk.api("post", f"/conversations/{conversation_id}/close", "aiko")
    desk.clock.advance(60)


def test_a_draft_that_answers_what_went_to_people_saves_their_pushes(desk):
    _handed_off_and_pushed(desk, "human please, shipping question")
    draft = dict(DRAFT, priority=5)

    result = _replay(desk, draft).json

    assert result["answered"] == 1
    assert result["taken_from_rules"] == 1
    assert result["handoffs_avoided"] == 1
    assert result["pushes_saved"] == 1


def test_a_handoff_draft_causes_the_pushes_a_handoff_costs(desk):
    _handed_off_and_pushed(desk, "talk to a person")
    desk.say("shipping?")
    draft = dict(DRAFT, handoff=True)

    result = _replay(desk, draft).json

    assert result["pushes_per_handoff"] == 1
    assert result["handoffs_added"] == 1
    assert result["pushes_caused"] == 1
    assert result["pushes_net"] == -1


def test_only_the_last_n_days_count(desk):
    desk.say("送料は？")
    desk.clock.advance(2 * 86400)
    desk.account("boss2", "admin")

    result = _replay(desk, days=1, who="boss2").json

    assert result["events"] == 0 and result["answered"] == 0
