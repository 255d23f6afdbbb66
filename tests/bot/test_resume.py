"""A run stored before the ack survives the bot: a restarted bot finds it and answers in Slack."""

from __future__ import annotations

from datetime import timedelta

from e2e_slack import CHANNEL, USER, lines_for, result_lines

from bot.app import worker_of
from bot.context import ModalContext, Origin
from sync_core.store.tables import utcnow


async def test_a_run_left_behind_is_resumed_once(bot):
    worker = worker_of(bot.app)
    context = ModalContext(origin=Origin.COMMAND, user_id=USER, channel_id=CHANNEL)
    run_id = await worker.submit(["1001", "1099"], context, USER)  # stored, then the bot "died"
    assert await worker.resume() == []  # its lease is still live: maybe another replica drives it
    bot.threads.set(run_id, lease_until=utcnow() - timedelta(seconds=1))

    assert await worker.resume() == [run_id]
    assert await worker.resume() == []  # taken: nobody else resumes it
    await bot.idle()

    thread = bot.threads.get(run_id)
    assert bot.store.get_run(run_id).state == "finished"
    [parent] = bot.slack.top_level(CHANNEL)
    assert parent.ts == thread.parent_ts
    lines = result_lines(bot.slack, thread)
    assert lines_for(lines, "1001") and lines_for(lines, "1099")


async def test_a_run_that_ran_but_was_never_reported_is_reported_without_running_again(bot):
    worker = worker_of(bot.app)
    context = ModalContext(origin=Origin.COMMAND, user_id=USER, channel_id=CHANNEL)
    run_id = await worker.submit(["1001"], context, USER)
    async for _ in bot.service.execute(run_id):  # it ran; then the bot died before posting anything
        pass
    bot.threads.set(run_id, lease_until=utcnow() - timedelta(seconds=1))
    calls = len(bot.salla.calls)

    assert await worker.resume() == [run_id]
    await bot.idle()

    assert len(bot.salla.calls) == calls  # not synced again
    thread = bot.threads.get(run_id)
    assert thread.lease_until is None  # reported
    assert lines_for(result_lines(bot.slack, thread), "1001")
    assert await worker.resume() == []  # reported: nothing left to resume
