"""A run stored before the ack survives the bot: a restarted bot (or a replica) finds it and answers
in Slack, in the same thread, without syncing again what was synced or posting twice what was posted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from e2e_slack import CHANNEL, USER, lines_for, result_lines

from bot.app import worker_of
from bot.context import ModalContext, Origin
from sync_core.reporting import LogOnlyReporter
from sync_core.store.tables import utcnow


def owner_gone(bot, run_id: int) -> None:
    """As if the process that stored or drove the run died a lease ago."""
    with bot.store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE sync_run SET owner = 'dead', lease_until = %s WHERE id = %s"
                             if conn.dialect.name == "postgresql" else
                             "UPDATE sync_run SET owner = 'dead', lease_until = ? WHERE id = ?",
                             (utcnow() - timedelta(seconds=1), run_id))


async def test_a_run_left_behind_is_resumed_once(bot):
    worker = worker_of(bot.app)
    context = ModalContext(origin=Origin.COMMAND, user_id=USER, channel_id=CHANNEL)
    run_id = await worker.submit(["1001", "1099"], context, USER)  # stored, then the bot "died"
    assert await worker.resume() == []  # its lease is still live: maybe another replica drives it
    owner_gone(bot, run_id)

    assert await worker.resume() == [run_id]
    assert await worker.resume() == []  # taken: nobody else resumes it
    await bot.idle()

    thread = bot.threads.get(run_id)
    run = bot.store.get_run(run_id)
    assert run.state == "finished" and run.reported_at is not None
    [parent] = bot.slack.top_level(CHANNEL)
    assert parent.ts == thread.parent_ts
    lines = result_lines(bot.slack, thread)
    assert lines_for(lines, "1001") and lines_for(lines, "1099")


async def test_a_run_that_ran_but_was_never_reported_is_reported_without_running_again(bot):
    worker = worker_of(bot.app)
    context = ModalContext(origin=Origin.COMMAND, user_id=USER, channel_id=CHANNEL)
    run_id = await worker.submit(["1001"], context, USER)

    class DiesBeforeReporting(LogOnlyReporter):
        async def report(self, live, results, cursor):
            return False  # the bot died before posting anything

    assert not await bot.service.engine.drive(run_id, DiesBeforeReporting())
    assert bot.store.get_run(run_id).state == "finished"
    owner_gone(bot, run_id)
    calls = len(bot.salla.calls)

    assert await worker.resume() == [run_id]
    await bot.idle()

    assert len(bot.salla.calls) == calls  # not synced again
    thread = bot.threads.get(run_id)
    assert bot.store.get_run(run_id).reported_at is not None
    assert lines_for(result_lines(bot.slack, thread), "1001")
    assert await worker.resume() == []  # reported: nothing left to resume


async def test_a_run_resumed_half_posted_posts_only_the_rest(bot, monkeypatch):
    """Two of its result messages were posted (and counted in the run) when the bot died; the
    process that resumes it posts the others, not the first two again."""
    from bot import thread_reporter

    one_each = lambda results: [m for r in results for m in result_messages_of([r])]  # noqa: E731
    result_messages_of = thread_reporter.result_messages
    monkeypatch.setattr(thread_reporter, "result_messages", one_each)  # a message per order: many messages
    worker = worker_of(bot.app)
    numbers = ["1001", "1003", "1005", "1099", "1016"]
    run_id = await worker.submit(numbers, ModalContext(origin=Origin.COMMAND, user_id=USER, channel_id=CHANNEL), USER)

    class DiesAfterTwo(thread_reporter.SlackThreadReporter):
        async def report(self, live, results, cursor):
            real = cursor.advance

            async def advance():
                return await real() and cursor.position < 2  # the process dies after the second

            cursor.advance = advance
            return await super().report(live, results, cursor)

    first = DiesAfterTwo(worker.out, worker.threads, bot.store, worker.tuning)
    assert not await bot.service.engine.drive(run_id, first)
    assert bot.store.get_run(run_id).report_cursor == 2
    first_lines = result_lines(bot.slack, bot.threads.get(run_id))
    assert len(first_lines) == 3  # 1003 has two invoices
    owner_gone(bot, run_id)

    assert await worker.resume() == [run_id]
    await bot.idle()
    lines = result_lines(bot.slack, bot.threads.get(run_id))
    assert lines[:3] == first_lines
    assert sorted(len(lines_for(lines, n)) for n in numbers) == [1, 1, 1, 1, 2]  # 1003 has two invoices
    assert len(lines) == len(set(lines)) == 6  # no line twice, none missing
    assert bot.store.get_run(run_id).reported_at is not None


async def test_a_kill_between_slack_taking_a_message_and_its_record_posts_it_once(bot, monkeypatch):
    """The known gap, closed: the process died after Slack took the second result message and before
    the run counted it. The process that resumes the run reads the thread back and posts the rest."""
    from bot import thread_reporter

    one_each = lambda results: [m for r in results for m in result_messages_of([r])]  # noqa: E731
    result_messages_of = thread_reporter.result_messages
    monkeypatch.setattr(thread_reporter, "result_messages", one_each)
    worker = worker_of(bot.app)
    numbers = ["1001", "1004", "1005", "1099"]
    run_id = await worker.submit(numbers, ModalContext(origin=Origin.COMMAND, user_id=USER, channel_id=CHANNEL), USER)

    class DiesAfterPostingTheSecond(thread_reporter.SlackThreadReporter):
        async def report(self, live, results, cursor):
            real = cursor.advance

            async def advance():
                if cursor.position == 1:
                    return False  # posted part 1, died before storing it
                return await real()

            cursor.advance = advance
            return await super().report(live, results, cursor)

    first = DiesAfterPostingTheSecond(worker.out, worker.threads, bot.store, worker.tuning)
    assert not await bot.service.engine.drive(run_id, first)
    assert bot.store.get_run(run_id).report_cursor == 1
    assert len(result_lines(bot.slack, bot.threads.get(run_id))) == 2  # two messages in the thread
    owner_gone(bot, run_id)

    assert await worker.resume() == [run_id]
    await bot.idle()
    lines = result_lines(bot.slack, bot.threads.get(run_id))
    assert len(lines) == len(set(lines)) == 4  # each once
    assert all(len(lines_for(lines, n)) == 1 for n in numbers)


class DropsTheOpening:
    """The thread store of a process that dies right after Slack took the parent and the progress
    message, before it recorded where they are: what it writes about them is lost."""

    def __init__(self, threads) -> None:
        self.threads = threads

    def set(self, run_id: int, **values) -> None:
        kept = {k: v for k, v in values.items() if k not in ("channel_id", "parent_ts", "progress_ts")}
        if kept:
            self.threads.set(run_id, **kept)

    def __getattr__(self, name):
        return getattr(self.threads, name)


@pytest.mark.parametrize("where", ["channel", "dm"])
async def test_a_kill_between_slack_taking_the_parent_and_its_record_posts_one_parent(bot, where):
    """The run's parent and progress message were in Slack, their ts not in the database, when the
    process died. The process that resumes the run reads the channel (or the DM) back and answers
    in that thread: one parent, one progress message turned into the summary."""
    from bot import thread_reporter

    if where == "dm":
        bot.slack.channel_not_found(CHANNEL)
    worker = worker_of(bot.app)
    run_id = await worker.submit(["1001", "1099"], ModalContext(origin=Origin.COMMAND, user_id=USER,
                                                                 channel_id=CHANNEL), USER)

    class DiesAfterOpening(thread_reporter.SlackThreadReporter):
        async def report(self, live, results, cursor):
            await self._opening
            return False  # died before its results were posted

    first = DiesAfterOpening(worker.out, DropsTheOpening(worker.threads), bot.store, worker.tuning)
    assert not await bot.service.engine.drive(run_id, first)
    assert bot.threads.get(run_id).parent_ts is None
    channel = CHANNEL if where == "channel" else bot.slack.dm_channel_of(USER)
    before = bot.slack.top_level(channel)  # in the DM, also the note saying why the thread is there
    [parent] = [m for m in before if "can't post" not in m.as_text()]
    told = len(bot.slack.ephemerals(USER))
    owner_gone(bot, run_id)

    assert await worker.resume() == [run_id]
    await bot.idle()
    thread = bot.threads.get(run_id)
    assert (thread.channel_id, thread.parent_ts) == (channel, parent.ts)
    assert bot.slack.top_level(channel) == before  # no second parent (and no second note)
    assert "Totals" in bot.slack.message(channel, parent.ts).as_text()
    replies = bot.slack.replies(channel, parent.ts)
    assert [m.ts for m in replies if "Sync" in m.as_text() and f"run {run_id}" in m.as_text().lower()] \
        == [thread.progress_ts]  # one progress message, turned into the summary
    assert "Sync finished" in bot.slack.message(channel, thread.progress_ts).as_text()
    lines = result_lines(bot.slack, thread)
    assert len(lines_for(lines, "1001")) == 1 and len(lines_for(lines, "1099")) == 1
    assert len(bot.slack.ephemerals(USER)) == told  # "I can't post in #channel" said once
