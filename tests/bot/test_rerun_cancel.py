"""Re-run the failed orders once (double clicks, two people at once), and cancel a run mid-way."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from e2e_slack import CHANNEL, OTHER_USER, USER, lines_for, result_lines, status_words

from bot.ids import ActionId


def enerpize_po_numbers(bot) -> Counter:
    docs = bot.enerpize.documents
    return Counter(d.po_number for kind in ("invoices", "refund_receipts") for d in docs[kind])


async def first_run_with_one_failure(bot):
    """1001, 1004 and 1005 with one invoice creation refused by Enerpize; 1099 does not exist."""
    bot.enerpize.fail_next(400, count=1, path_contains="/invoices", method="POST")
    thread = await bot.sync("1001\n1004\n1005\n1099")
    [failed] = await bot.service.failed_numbers(thread.run_id)
    return thread, failed


async def test_rerun_takes_only_the_failed_orders_and_answers_in_the_same_thread(bot):
    thread, failed = await first_run_with_one_failure(bot)
    summary = bot.slack.message(CHANNEL, thread.progress_ts)
    assert "[Re-run failed (1)]" in summary.as_text()

    answer = await bot.send(bot.slack.click(CHANNEL, thread.progress_ts, ActionId.RERUN_FAILED.value, user_id=USER))
    assert (answer.status, answer.text) == (200, "")
    await bot.idle()

    first, second = bot.runs()
    assert second.retry_of == first.id and second.number_list == [failed]
    rerun = bot.threads.get(second.id)
    assert (rerun.channel_id, rerun.parent_ts) == (CHANNEL, thread.parent_ts)  # the same thread
    assert len(bot.slack.top_level(CHANNEL)) == 1

    lines = result_lines(bot.slack, thread)
    assert [status_words(line)[0] for line in lines_for(lines, failed)] == ["Failed", "Success"]
    assert all(count == 1 for count in enerpize_po_numbers(bot).values())

    parent = bot.slack.message(CHANNEL, thread.parent_ts).as_text()
    assert "*Totals (after 1 re-run):* 3 Success · 1 Record not found" in parent
    old_summary = bot.slack.message(CHANNEL, thread.progress_ts).as_text()
    assert "Re-run failed" not in old_summary and "re-ran the 1 failed order" in old_summary
    new_summary = bot.slack.message(CHANNEL, rerun.progress_ts).as_text()
    assert "re-run of 1 order: 1 Success" in new_summary


@pytest.mark.parametrize("clickers", [(USER, USER), (USER, OTHER_USER)], ids=["double-click", "two-people"])
async def test_two_clicks_at_once_make_one_rerun(bot, clickers):
    thread, failed = await first_run_with_one_failure(bot)
    clicks = [bot.slack.click(CHANNEL, thread.progress_ts, ActionId.RERUN_FAILED.value, user_id=user)
              for user in clickers]  # both see the button as it is now
    answers = await asyncio.gather(*(bot.send(click) for click in clicks))
    assert [a.status for a in answers] == [200, 200]
    await bot.idle()

    assert len(bot.runs()) == 2  # the first run and exactly one re-run
    assert all(count == 1 for count in enerpize_po_numbers(bot).values())
    told = bot.slack.ephemerals()
    assert len(told) == 1 and "already re-ran" in told[0].text

    again = await bot.send(clicks[0])  # a late click on the old button
    await bot.idle()
    assert again.status == 200 and len(bot.runs()) == 2
    assert len(bot.slack.ephemerals()) == 2
    lines = result_lines(bot.slack, thread)
    assert len(lines_for(lines, failed)) == 2  # its first result and the re-run's, nothing more


async def test_cancel_stops_the_orders_not_yet_started(make_bot):
    bot = await make_bot(salla_sync_concurrency=1)
    bot.salla.latency = 0.02
    numbers = [str(n) for n in range(1001, 1031)]
    view = await bot.open_modal()
    await bot.submit(view, "\n".join(numbers))
    [run] = bot.runs()

    def started():
        thread = bot.threads.get(run.id)
        return thread if thread.progress_ts and len(bot.store.run_records(run.id)) >= 2 else None

    thread = await bot.slack.until(started, timeout=10)
    await bot.send(bot.slack.click(CHANNEL, thread.progress_ts, ActionId.CANCEL_RUN.value, user_id=OTHER_USER))
    await bot.idle()

    run = bot.store.get_run(run.id)
    assert run.state == "cancelled"
    lines = result_lines(bot.slack, thread)
    assert all(len(status_words(line)) == 1 for line in lines)
    assert all(lines_for(lines, n) for n in numbers)  # every number has its line
    cancelled = [line for line in lines if "Cancelled" in line]
    assert 0 < len(cancelled) < len(numbers)
    summary = bot.slack.message(CHANNEL, thread.progress_ts)
    assert f"Cancelled by <@{OTHER_USER}>" in summary.as_text()
    assert not any(e["action_id"] == ActionId.CANCEL_RUN.value
                   for b in summary.blocks if b["type"] == "actions" for e in b["elements"])
    assert "Cancelled" in bot.slack.message(CHANNEL, thread.parent_ts).as_text()


async def test_someone_not_allowed_cannot_rerun(make_bot):
    bot = await make_bot(salla_sync_allowed_users=USER)
    thread, _ = await first_run_with_one_failure(bot)
    await bot.send(bot.slack.click(CHANNEL, thread.progress_ts, ActionId.RERUN_FAILED.value, user_id=OTHER_USER))
    await bot.idle()
    assert len(bot.runs()) == 1
    [told] = bot.slack.ephemerals(OTHER_USER)
    assert "only people allowed" in told.text
