"""The Slack simulator refuses what Slack refuses, and its scripted faults look like Slack's."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack_sim import SlackSimulator, sign


@pytest.fixture
def client(slack: SlackSimulator) -> AsyncWebClient:
    return AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])


async def error_of(call) -> tuple[str, int]:
    with pytest.raises(SlackApiError) as raised:
        await call
    return raised.value.response["error"], raised.value.response.status_code


def test_sign_matches_slack_sdks_verifier():
    headers = sign(b"command=%2Fsalla-sync", "s3cret", timestamp=1_700_000_000)
    verifier = SignatureVerifier("s3cret", clock=type("C", (), {"now": lambda self: 1_700_000_010})())
    assert verifier.is_valid(b"command=%2Fsalla-sync", headers["X-Slack-Request-Timestamp"],
                             headers["X-Slack-Signature"])


async def test_messages_threads_and_updates(slack, client):
    parent = await client.chat_postMessage(channel="C1", text="parent")
    reply = await client.chat_postMessage(channel="C1", text="reply", thread_ts=parent["ts"])
    await client.chat_update(channel="C1", ts=parent["ts"], text="parent, edited")
    assert slack.thread("C1", parent["ts"]) == ["parent, edited", "reply"]
    assert await error_of(client.chat_postMessage(channel="C1", text="x", thread_ts=reply["ts"])) == \
        ("invalid_thread_ts", 200)
    assert await error_of(client.chat_update(channel="C1", ts="1.000", text="x")) == ("message_not_found", 200)
    assert [c.method for c in slack.calls()][:3] == ["chat.postMessage", "chat.postMessage", "chat.update"]
    assert slack.calls("chat.update")[0].args["text"] == "parent, edited"


async def test_block_kit_limits(client):
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    assert (await error_of(client.chat_postMessage(channel="C1", text="t", blocks=[section] * 51)))[0] == \
        "invalid_blocks"
    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    assert (await error_of(client.chat_postMessage(channel="C1", text="t", blocks=[long_section])))[0] == \
        "invalid_blocks"
    big = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2500}}
    assert (await error_of(client.chat_postMessage(channel="C1", text="t", blocks=[big] * 5)))[0] == \
        "msg_blocks_too_long"


async def test_scripted_faults(slack, client):
    slack.rate_limit_next("chat.postMessage", count=1, retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="x")
    assert raised.value.response.status_code == 429 and raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"

    slack.not_in_channel("C2")
    assert (await error_of(client.chat_postMessage(channel="C2", text="x")))[0] == "not_in_channel"
    await client.conversations_join(channel="C2")
    await client.chat_postMessage(channel="C2", text="x")

    slack.channel_not_found("C3")
    assert (await error_of(client.conversations_join(channel="C3")))[0] == "channel_not_found"

    trigger = slack.new_trigger_id()
    slack.expire_trigger(trigger)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []}
    assert (await error_of(client.views_open(trigger_id=trigger, view=modal)))[0] == "expired_trigger_id"
    fresh = slack.new_trigger_id()
    await client.views_open(trigger_id=fresh, view=modal)
    assert (await error_of(client.views_open(trigger_id=fresh, view=modal)))[0] == "exchanged_trigger_id"
    assert (await error_of(client.views_open(trigger_id="made-up", view=modal)))[0] == "invalid_trigger_id"

    bad_token = AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url, retry_handlers=[])
    assert (await error_of(bad_token.auth_test()))[0] == "invalid_auth"


async def test_history_reads_top_level_messages_newest_first_in_pages(slack, client):
    import time

    before = time.time()
    meta = {"event_type": "salla_sync_post", "event_payload": {"key": "k"}}
    first = await client.chat_postMessage(channel="C1", text="first", metadata=meta)
    await client.chat_postMessage(channel="C1", text="reply", thread_ts=first["ts"])
    second = await client.chat_postMessage(channel="C1", text="second")
    third = await client.chat_postMessage(channel="C1", text="third")
    assert before - 1 < float(first["ts"]) < float(second["ts"]) < float(third["ts"]) < time.time() + 1  # a time, as Slack's

    page = await client.conversations_history(channel="C1", limit=2, include_all_metadata=True)
    assert [m["text"] for m in page["messages"]] == ["third", "second"] and page["has_more"]
    rest = await client.conversations_history(channel="C1", limit=2, include_all_metadata=True,
                                              cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["first"] and not rest["has_more"]
    assert rest["messages"][0]["metadata"] == meta  # replies are not in the history; metadata when asked
    plain = await client.conversations_history(channel="C1", oldest=second["ts"])
    assert [m["text"] for m in plain["messages"]] == ["third"] and "metadata" not in plain["messages"][0]
    slack.not_in_channel("C2")
    assert await error_of(client.conversations_history(channel="C2")) == ("not_in_channel", 200)


async def test_what_the_bot_posted_is_read_back_by_its_key(slack, client):
    from datetime import datetime, timezone

    from bot.slack_io import SlackOut, once
    from bot.ui.thread import SlackMessage
    from e2e_slack import TEST_TUNING

    out = SlackOut(client, TEST_TUNING)
    since = datetime.now(timezone.utc)
    parent = await out.post("C1", SlackMessage(text="parent", blocks=None), metadata=once("run 1 parent"))
    for n in range(450):  # more than two pages of 200 after it, in the channel and in the thread
        await client.chat_postMessage(channel="C1", text=f"chatter {n}", thread_ts=parent if n % 2 else None)
    reply = await out.post("C1", SlackMessage(text="progress", blocks=None), thread_ts=parent, metadata=once("run 1 progress"))
    assert (await out.posted("C1", since=since)) == {"run 1 parent": parent}
    assert (await out.posted("C1", thread_ts=parent)) == {"run 1 parent": parent, "run 1 progress": reply}
    slack.not_in_channel("C2")
    assert await out.posted("C2", since=since) == {}  # read after joining: nothing posted there
    assert slack.joined == ["C2"]
    slack.channel_not_found("C3")
    assert await out.posted("C3", since=since) == {}  # cannot be read: taken as not posted
