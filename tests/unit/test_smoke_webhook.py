from bot import jobs
from tests.conftest import SECRET
from tests.helpers import body_of, sign, text_event


def test_signed_text_event_is_answered_by_reply(client, runtime, fake_line):
    event = text_event(reply_token=fake_line.issue("tok-1"))
    body = body_of(event)

    response = client.post(
        "/callback", data=body, headers={"X-Line-Signature": sign(SECRET, body)}
    )

    assert response.status_code == 200
    jobs.drain([event["source"]["userId"]])
    assert [c[0] for c in fake_line.calls] == ["reply"]
    assert fake_line.calls[0][1] == "tok-1"
