"""Socket Mode: the same app over a WebSocket (no public URL, no signatures): command, modal, thread."""

from __future__ import annotations

import pytest
from e2e_slack import CHANNEL, USER, lines_for, result_lines

from bot.main import start_socket_mode


@pytest.fixture
async def socket_bot(bot):
    handler = await start_socket_mode(bot.app, bot.slack.app_token)
    await bot.slack.until(lambda: bot.slack.socket_connections)
    yield bot
    await handler.close_async()


async def acked(bot, kind: str, payload: dict):
    envelope = bot.slack.socket_send(kind, payload)
    await bot.slack.until(lambda: envelope in bot.slack.socket_acks)
    await bot.idle()
    return bot.slack.socket_acks[envelope]


async def test_a_sync_over_socket_mode(socket_bot):
    bot = socket_bot
    await acked(bot, "slash_commands", bot.slack.command("", user_id=USER, channel_id=CHANNEL).payload)
    [view] = bot.slack.opened_views

    refused = await acked(bot, "interactive", bot.slack.submission(view, "10 01", user_id=USER).payload)
    assert refused["response_action"] == "errors"

    await acked(bot, "interactive", bot.slack.submission(view, "1001\n1099", user_id=USER).payload)
    thread = bot.last_thread()
    lines = result_lines(bot.slack, thread)
    assert lines_for(lines, "1001") and lines_for(lines, "1099")
    assert len(bot.slack.top_level(CHANNEL)) == 1
