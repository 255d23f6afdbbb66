""""Sync orders in message": the form filled with the message's numbers, results under that message."""

from __future__ import annotations

from e2e_slack import CHANNEL, USER, lines_for, result_lines

from bot.ids import CallbackId

SHORTCUT = CallbackId.MESSAGE_SHORTCUT.value


async def open_from_message(bot, text: str) -> tuple[str, dict]:
    ts = bot.slack.user_message(CHANNEL, text, user_id="U0SELLER")
    before = len(bot.slack.opened_views)
    answer = await bot.send(bot.slack.message_shortcut(CHANNEL, ts, SHORTCUT, user_id=USER))
    assert (answer.status, answer.text) == (200, "")
    await bot.idle()
    [view] = bot.slack.opened_views[before:]
    return ts, view


def typed(view: dict) -> str:
    [block] = [b for b in view["blocks"] if b.get("type") == "input"]
    return block["element"].get("initial_value") or ""


async def test_the_numbers_of_a_message_are_synced_in_its_thread(bot):
    ts, view = await open_from_message(bot, "Hi! #1001 and order ١٠٠٢ did not reach Enerpize, nor 1099 (1001 again)")
    assert typed(view) == "1001\n1002\n1099"
    assert "thread of that message" in str(view["blocks"])
    answer = await bot.submit(view, typed(view))
    assert (answer.status, answer.text) == (200, "")
    await bot.idle()

    [run] = bot.runs()
    thread = bot.threads.get(run.id)
    assert (thread.channel_id, thread.parent_ts) == (CHANNEL, ts)  # under the person's message
    [top] = bot.slack.top_level(CHANNEL)
    assert top.ts == ts and top.edits == 0  # nothing of ours at the top; their message is not edited
    lines = result_lines(bot.slack, thread)
    assert lines_for(lines, "1001") and lines_for(lines, "1002") and lines_for(lines, "1099")


async def test_more_than_100_numbers_fill_the_form_with_100_and_say_how_many_are_left(bot):
    text = " ".join(f"#{2000 + n}" for n in range(130))
    _, view = await open_from_message(bot, text)
    assert typed(view).splitlines() == [str(2000 + n) for n in range(100)]
    assert "30 more numbers than the 100 that fit" in str(view["blocks"])
