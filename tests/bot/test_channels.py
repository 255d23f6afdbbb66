"""Where the bot may not post: it joins public channels; elsewhere it says so and uses the user's DM."""

from __future__ import annotations

import pytest
from e2e_slack import USER, lines_for, result_lines

SECRET_CHANNEL = "C0PRIVATE"


async def test_a_public_channel_the_bot_is_not_in_is_joined(bot):
    bot.slack.not_in_channel("C0RANDOM")
    thread = await bot.sync("1001", channel="C0RANDOM")
    assert bot.slack.joined == ["C0RANDOM"]
    assert thread.channel_id == "C0RANDOM"
    assert len(bot.slack.top_level("C0RANDOM")) == 1
    assert lines_for(result_lines(bot.slack, thread), "1001")
    assert not bot.slack.ephemerals()


@pytest.mark.parametrize("fault", ["channel_not_found", "private_channel"])
async def test_where_the_bot_cannot_post_the_user_is_told_and_the_thread_goes_to_their_dm(bot, fault):
    getattr(bot.slack, fault)(SECRET_CHANNEL)
    thread = await bot.sync("1001\n1099", channel=SECRET_CHANNEL)

    dm = bot.slack.dm_channel_of(USER)
    assert thread.channel_id == dm
    assert bot.slack.messages(SECRET_CHANNEL) == []
    [told] = bot.slack.ephemerals(USER)
    assert told.via == "response_url" and "direct messages" in told.text
    [parent] = bot.slack.top_level(dm)
    assert "started a sync of 2 orders" in parent.as_text() and "1 Success" in parent.as_text()
    lines = result_lines(bot.slack, thread)
    assert lines_for(lines, "1001") and lines_for(lines, "1099")


async def test_when_nothing_can_be_posted_the_run_still_happens_and_the_user_hears_of_it(bot):
    bot.slack.channel_not_found(SECRET_CHANNEL)
    bot.slack.fail_next("conversations.open", "cannot_dm_bot", count=5)
    await bot.sync("1001", channel=SECRET_CHANNEL)
    [run] = bot.runs()
    assert run.state == "finished" and run.succeeded == 1
    told = [e.text for e in bot.slack.ephemerals(USER)]
    assert any("run 1" in text and "1 Success" in text and "App Home" in text for text in told), told
