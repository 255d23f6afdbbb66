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
