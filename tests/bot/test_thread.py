"""A run in the thread: one parent, results as replies (one line per order and document, one status
word each, failures first), the parent updated with the totals; Block Kit limits and a bounded number
of Slack calls for 100 orders; 429s delay messages but lose none."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from e2e_slack import CHANNEL, TEST_TUNING, lines_for, result_lines, result_messages, status_words

from bot.ids import ActionId
from sandbox import line
from sandbox.slack_sim import MESSAGE_MAX_BLOCK_TEXT, MESSAGE_MAX_BLOCKS, block_text_length

MIXED = "1001\n1002\n1011\n1016\n1099\n#1003"


async def test_a_mixed_run_answers_in_one_thread_with_one_line_per_order_and_document(bot):
    thread = await bot.sync(MIXED)
    slack = bot.slack

    [parent] = slack.top_level(CHANNEL)  # exactly one top-level message
    assert parent.ts == thread.parent_ts and thread.channel_id == CHANNEL
    replies = slack.replies(CHANNEL, parent.ts)
    assert replies and all(m.thread_ts == parent.ts for m in replies)
    assert len(slack.messages(CHANNEL)) == 1 + len(replies)

    lines = result_lines(slack, thread)
    assert all(len(status_words(line)) == 1 for line in lines), lines
    expected = {"1001": ["Success"], "1002": ["Success", "Success"], "1003": ["Success", "Success"],
                "1011": ["Failed"], "1016": ["Failed"], "1099": ["Record not found"]}
    for number, statuses in expected.items():
        found = lines_for(lines, number)
        assert [status_words(line)[0] for line in found] == statuses, (number, found)
    assert len(lines) == sum(len(s) for s in expected.values())

    # Failures first, successes last.
    words = [status_words(line)[0] for line in lines]
    assert words.index("Success") > max(i for i, w in enumerate(words) if w != "Success")

    # The detail: Enerpize document numbers on success, the reason on failure.
    invoices = {d.po_number: d for d in bot.enerpize.documents["invoices"]}
    returns = {d.po_number: d for d in bot.enerpize.documents["refund_receipts"]}
    [line_1001] = lines_for(lines, "1001")
    assert f"invoice {invoices['SALLA-560001'].no}" in line_1001 and "310.50 SAR" in line_1001
    assert any(f"return {returns['SALLA-560003'].no}" in line for line in lines_for(lines, "1002"))
    assert "no invoice in Salla yet (order status: under_review)" in lines_for(lines, "1011")[0]
    assert "144.75" in lines_for(lines, "1016")[0]  # the totals that differ
    assert "no order" in lines_for(lines, "1099")[0]

    # The parent says who and how many, then carries the totals.
    assert parent.edits >= 1
    text = parent.as_text()
    assert "<@U0ALICE> started a sync of 6 orders" in text
    assert "3 Success · 2 Failed · 1 Record not found" in text

    # The progress message became the summary, with the re-run button (and its confirm dialog).
    summary = slack.message(CHANNEL, thread.progress_ts)
    assert "3 Success · 2 Failed · 1 Record not found" in summary.as_text()
    button, download = [e for b in summary.blocks if b["type"] == "actions" for e in b["elements"]]
    assert download["action_id"] == ActionId.DOWNLOAD_CSV.value
    assert button["action_id"] == ActionId.RERUN_FAILED.value and button["text"]["text"] == "Re-run failed (2)"
    assert button["confirm"]["title"]["text"]
    assert not slack.ephemerals()


async def test_while_running_the_progress_message_has_a_cancel_button(bot):
    thread = await bot.sync("1001")
    first = next(c for c in bot.slack.calls("chat.postMessage") if c.args.get("thread_ts") == thread.parent_ts)
    actions = [e["action_id"] for b in first.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == [ActionId.CANCEL_RUN.value]
    final = bot.slack.message(CHANNEL, thread.progress_ts)
    buttons = [e["action_id"] for b in final.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [ActionId.DOWNLOAD_CSV.value]  # nothing failed: no re-run, only the CSV


def add_orders(store, count: int, first_reference: int = 5001) -> list[str]:
    """``count`` more orders with one invoice each; every tenth has no invoice yet (Failed)."""
    customer = store.add_customer("عميل", "تجريبي", mobile="555000999")
    coffee = line("قهوة عربية 500 جرام", "45.00", sku="coffee-500g")
    numbers = []
    for i in range(count):
        order = store.add_order(first_reference + i, customer=customer, lines=[replace(coffee, quantity=1 + i % 3)],
                                shipping="15")
        if i % 10 != 9:
            store.add_invoice(order)
        numbers.append(str(first_reference + i))
    return numbers


def assert_within_block_kit_limits(messages) -> None:
    for message in messages:
        blocks = message.blocks or []
        assert len(blocks) <= MESSAGE_MAX_BLOCKS
        assert block_text_length(blocks) <= MESSAGE_MAX_BLOCK_TEXT
        for block in blocks:
            if block["type"] == "section" and "text" in block:
                assert len(block["text"]["text"]) <= 3000


async def run_100(bot, salla_store):
    numbers = add_orders(salla_store, 95) + ["9001", "9002", "9003", "9004", "9005"]  # 5 not found
    view = await bot.open_modal()
    mark = len(bot.slack.calls())
    answer = await bot.submit(view, "\n".join(numbers))
    assert (answer.status, answer.text) == (200, "")
    await bot.idle()
    return numbers, bot.last_thread(), mark


async def test_100_orders_stay_within_block_kit_limits_and_cost_at_most_15_slack_calls(bot, salla_store):
    numbers, thread, mark = await run_100(bot, salla_store)

    calls = bot.slack_calls_since(mark)
    assert len(calls) <= 15, [c.method for c in calls]
    assert all(c.ok for c in calls), [(c.method, c.error) for c in calls]
    assert_within_block_kit_limits(bot.slack.messages(CHANNEL))

    lines = result_lines(bot.slack, thread)
    assert len(lines) == 100
    for number in numbers:
        [found] = lines_for(lines, number)
        assert len(status_words(found)) == 1
    assert len(result_messages(bot.slack, thread)) <= 2  # as few messages as the limits allow
    assert len(bot.slack.top_level(CHANNEL)) == 1


async def test_rate_limited_messages_are_delayed_never_lost(bot, salla_store):
    bot.slack.rate_limit_next("chat.postMessage", count=3, retry_after=0)
    bot.slack.rate_limit_next("chat.update", count=2, retry_after=0)
    numbers, thread, mark = await run_100(bot, salla_store)

    throttled = [c for c in bot.slack_calls_since(mark, include_throttled=True) if c.throttled]
    assert len(throttled) == 5
    assert len(bot.slack_calls_since(mark)) <= 15
    lines = result_lines(bot.slack, thread)
    assert sorted(n for n in numbers if lines_for(lines, n)) == sorted(numbers)
    parent = bot.slack.message(CHANNEL, thread.parent_ts)
    assert "86 Success · 9 Failed · 5 Record not found" in parent.as_text()
    summary = bot.slack.message(CHANNEL, thread.progress_ts)
    assert "Re-run failed (9)" in summary.as_text()


async def test_progress_updates_are_capped_however_long_the_run(make_bot):
    bot = await make_bot(tuning=replace(TEST_TUNING, progress_interval=0.01, progress_backoff=1.0,
                                        max_progress_updates=3), salla_sync_concurrency=1)
    bot.salla.latency = 0.01
    thread = await bot.sync("\n".join(str(n) for n in range(1001, 1017)))
    updates = [c for c in bot.slack.calls("chat.update") if c.args["ts"] == thread.progress_ts]
    assert 2 <= len(updates) <= 3 + 1  # progress updates, then the summary
    assert "Sync finished" in bot.slack.message(CHANNEL, thread.progress_ts).as_text()


async def test_syncing_does_not_wait_for_the_thread_to_open(bot):
    """Slack slow to answer (a far or rate-limited channel): the order is synced while the parent
    message is on its way, not after it."""
    view = await bot.open_modal()
    bot.slack.latency = 3.0
    reply = await bot.submit(view, "1001")
    assert reply.status == 200
    run_id = bot.store.recent_runs(1)[0].id
    while not bot.store.run_records(run_id):
        await asyncio.sleep(0.02)
    assert bot.threads.get(run_id).parent_ts is None  # the result is in before Slack answered the parent
    bot.slack.latency = 0.0  # the parent is still on its way; the rest of the thread need not crawl
    await bot.idle()
    thread = bot.last_thread()
    assert len(bot.slack.top_level(CHANNEL)) == 1  # still one parent, with the result in its thread
    assert status_words(result_lines(bot.slack, thread)[0]) == ["Success"]


async def test_a_run_reads_finished_only_once_every_result_line_is_in_its_thread(bot):
    """The parent's totals and the "Sync finished" summary come after the last result message."""
    mark = len(bot.slack.calls())
    thread = await bot.sync("1001\n1002\n1099")
    calls = [c for c in bot.slack.calls()[mark:] if c.ok and not c.throttled]
    results = [i for i, c in enumerate(calls) if c.method == "chat.postMessage"
               and c.args.get("thread_ts") == thread.parent_ts and "Sync results" in str(c.args.get("text"))]
    finished = [i for i, c in enumerate(calls) if c.method == "chat.update" and c.args.get("ts") == thread.progress_ts
                and "finished" in str(c.args.get("text"))]
    totals = [i for i, c in enumerate(calls) if c.method == "chat.update" and c.args.get("ts") == thread.parent_ts]
    assert results and finished and totals
    assert max(results) < min(finished) and max(results) < min(totals)


async def test_download_csv_puts_the_runs_rows_in_its_thread_as_excel_reads_them(bot):
    import csv
    import io

    thread = await bot.sync("1001\n1002\n1099")
    answer = await bot.send(bot.slack.click(CHANNEL, thread.progress_ts, ActionId.DOWNLOAD_CSV.value, user_id="U0ALICE"))
    assert (answer.status, answer.text) == (200, "")
    await bot.idle()
    [shared] = bot.slack.uploaded_files(CHANNEL)
    assert shared.thread_ts == thread.parent_ts and shared.filename == f"salla-sync-run-{thread.run_id}.csv"
    assert shared.content.startswith("\ufeff".encode())  # UTF-8 with BOM: Excel opens Arabic right
    rows = list(csv.DictReader(io.StringIO(shared.content.decode("utf-8-sig"))))
    records = bot.store.run_records(thread.run_id)
    assert [(r["number typed"], r["status"], r["kind"]) for r in rows] == \
        [(r.number, r.status, r.kind or "") for r in records]
    assert all(r["who"] == "U0ALICE" for r in rows)
    first = next(r for r in rows if r["number typed"] == "1001")
    assert (first["total"], first["currency"], first["salla invoice number"]) == ("310.50", "SAR", "INV-8841")
