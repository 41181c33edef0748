"""User profiles from LINE (cached, never in the answer's way) and canned replies."""

from bot.line_api import LineError
from handoff.profiles import Profiles, refresh_job
from tests.handoff.conftest import USER

PROFILE = {"displayName": "Hanako", "pictureUrl": "https://x/p.png", "language": "ja"}


def _profiles(runtime, fake_line, clock):
    return Profiles(runtime.redis, fake_line, clock)


def test_profile_is_fetched_once_and_shown_in_the_list(desk, runtime, fake_line, clock):
    fetched = []
    fake_line.get_profile = lambda user_id: fetched.append(user_id) or PROFILE
    profiles = _profiles(runtime, fake_line, clock)

    profiles.refresh(USER)
    desk.postback()
    listed = desk.api("get", "/conversations", "aiko").json["conversations"]

    assert fetched == [USER]
    assert listed[0]["display_name"] == "Hanako"
    assert listed[0]["picture_url"] == "https://x/p.png"
    assert not profiles.stale(USER)


def test_a_new_user_gets_a_profile_fetch_queued_once(desk, runtime):
    desk.say("hi")
    desk.say("hi again")

    jobs = [job for job in runtime.queue.get_jobs() if "profiles" in job.func_name]
    assert [job.args for job in jobs] == [(USER,)]


def test_profile_is_refreshed_after_a_day(runtime, fake_line, clock):
    fake_line.get_profile = lambda user_id: PROFILE
    profiles = _profiles(runtime, fake_line, clock)
    profiles.refresh(USER)

    clock.advance(23 * 3600)
    assert not profiles.stale(USER)
    clock.advance(3600)
    assert profiles.stale(USER)


def test_a_failing_profile_fetch_keeps_the_cached_copy(runtime, fake_line, clock):
    fake_line.get_profile = lambda user_id: PROFILE
    profiles = _profiles(runtime, fake_line, clock)
    profiles.refresh(USER)

    def fail(user_id):
        raise LineError("server_error", 500, "boom")

    fake_line.get_profile = fail
    assert profiles.refresh(USER) is None
    assert profiles.get(USER)["display_name"] == "Hanako"


def test_the_refresh_job_uses_the_process_runtime(runtime, fake_line):
    fake_line.get_profile = lambda user_id: PROFILE

    assert refresh_job(USER) is True
    assert Profiles(runtime.redis, fake_line).get(USER)["language"] == "ja"


def test_the_bot_answers_even_when_profiles_fail(desk, fake_line):
    def fail(user_id):
        raise LineError("transport", None, "down")

    fake_line.get_profile = fail

    desk.say("hello")

    assert desk.line.replies()


# -- canned replies -----------------------------------------------------------------


def test_canned_replies_are_created_listed_and_deleted(desk):
    created = desk.api(
        "post", "/canned", "aiko", json={"code": "hours", "text": "We open at 9."}
    )
    listed = desk.api("get", "/canned", "ben").json["canned"]
    deleted = desk.api("delete", "/canned/hours", "aiko")

    assert created.status_code == 201
    assert created.json["messages"] == [{"type": "text", "text": "We open at 9."}]
    assert [c["code"] for c in listed] == ["hours"]
    assert deleted.status_code == 204
    assert desk.api("get", "/canned", "ben").json["canned"] == []


def test_canned_reply_can_hold_line_message_objects(desk):
    sticker = {"type": "sticker", "packageId": "446", "stickerId": "1988"}

    created = desk.api(
        "post", "/canned", "aiko", json={"code": "thanks", "messages": [sticker]}
    )

    assert created.status_code == 201
    assert created.json["messages"] == [sticker]


def test_a_taken_code_is_409(desk):
    desk.api("post", "/canned", "aiko", json={"code": "hours", "text": "a"})

    again = desk.api("post", "/canned", "ben", json={"code": "hours", "text": "b"})

    assert again.status_code == 409
    assert again.json["field"] == "code"


def test_bad_canned_replies_are_422_naming_the_field(desk):
    cases = [
        ({"code": "Bad Code", "text": "x"}, "code"),
        ({"code": "ok", "text": ""}, "text"),
        ({"code": "ok"}, "text"),
        ({"code": "ok", "messages": [{"type": "text"}]}, "messages[0]"),
    ]
    for body, field in cases:
        response = desk.api("post", "/canned", "aiko", json=body)
        assert response.status_code == 422, body
        assert response.json["field"].startswith(field), body


def test_only_the_author_or_an_admin_deletes_a_canned_reply(desk):
    desk.api("post", "/canned", "aiko", json={"code": "hours", "text": "a"})

    assert desk.api("delete", "/canned/hours", "ben").status_code == 403
    assert desk.api("delete", "/canned/hours", "boss").status_code == 204
    assert desk.api("delete", "/canned/hours", "boss").status_code == 404
