"""``/salla-sync audit FROM [TO]``: the audit in a thread, and its "Sync N missing" button, through
requests signed as Slack signs them."""

from __future__ import annotations

import asyncio
from collections import Counter

from e2e_slack import CHANNEL, OTHER_USER, USER, lines_for, status_words

from bot.ids import ActionId
from sandbox.salla_store import line


def thread_lines(bot, parent_ts: str) -> list[str]:
    return [line for m in bot.slack.replies(CHANNEL, parent_ts) for line in m.lines()]


async def audit(bot, text: str):
    reply = await bot.command(f"audit {text}")
    assert (reply.status, reply.text) == (200, "")  # acked at once
    await bot.idle()
    return bot.slack.top_level(CHANNEL)[-1]  # the newest: the audit's parent


async def test_an_audit_lists_the_missing_invoices_and_one_click_syncs_them_once(bot):
    await bot.sync("1001")  # in Enerpize already
    mark = len(bot.runs())
    parent = await audit(bot, "2026-11-20 2026-11-21")
    assert bot.store.recent_runs(1)[0].id == mark  # auditing runs nothing
    assert "<@U0ALICE> asked which Salla invoices of 2026-11-20 to 2026-11-21 are not in Enerpize" in parent.as_text()
    replies = bot.slack.replies(CHANNEL, parent.ts)
    assert "1 Salla invoice, 1 in Enerpize, 0 missing" in replies[0].as_text()
    assert "Sync" not in replies[0].as_text()  # nothing to sync: no button

    bot.salla.store.add_invoice(bot.salla.store.add_order(1060, customer=None, lines=[line("x", "10")],
                                                          date="2026-11-21 09:00:00"))
    parent = await audit(bot, "2026-11-01 2026-11-30")
    summary, *missing = bot.slack.replies(CHANNEL, parent.ts)
    text = summary.as_text()
    assert "missing from Enerpize" in text and "[Sync " in text
    listed = [line for m in missing for line in m.lines()]
    assert any("`1003`" in line and "invoice" in line for line in listed)
    assert not any("`1001`" in line for line in listed)  # synced before: not listed

    click = bot.slack.click(CHANNEL, summary.ts, ActionId.SYNC_AUDIT_MISSING.value, user_id=USER)
    twice = bot.slack.click(CHANNEL, summary.ts, ActionId.SYNC_AUDIT_MISSING.value, user_id=OTHER_USER)
    answers = await asyncio.gather(bot.send(click), bot.send(twice))
    assert all((a.status, a.text) == (200, "") for a in answers)
    await bot.idle()

    runs = [r for r in bot.runs() if r.source == "audit"]
    assert len(runs) == 1  # two clicks, one sync
    numbers = runs[0].number_list
    assert "1003" in numbers and "1001" not in numbers
    lines = thread_lines(bot, parent.ts)
    assert all(lines_for(lines, n) for n in numbers)  # the results, in the audit's thread
    assert status_words(lines_for(lines, "1003")[-1]) == ["Success"]
    assert "[Sync " not in bot.slack.message(CHANNEL, summary.ts).as_text()  # the button is gone
    assert "started syncing" in bot.slack.message(CHANNEL, summary.ts).as_text()
    assert "*Sync of" in bot.slack.message(CHANNEL, parent.ts).as_text()  # the parent's totals
    assert len(bot.slack.top_level(CHANNEL)) == 3  # the sync of 1001, two audits: nothing else at the top
    po_numbers = Counter(d.po_number for docs in bot.enerpize.documents.values() for d in docs)
    assert all(count == 1 for count in po_numbers.values())
    told = [e for user in (USER, OTHER_USER) for e in bot.slack.ephemerals(user) if "already started syncing" in e.text]
    assert len(told) == 1  # whoever pressed second (the two clicks race) is told who started it


async def test_a_bad_range_is_answered_to_the_asker_only_and_nothing_runs(bot):
    reply = await bot.command("audit 2026-11-30 2026-11-01")
    assert reply.status == 200
    assert "the range ends (2026-11-01) before it starts (2026-11-30)" in reply.json()["text"]
    assert reply.json()["response_type"] == "ephemeral"
    await bot.idle()
    assert bot.slack.top_level(CHANNEL) == [] and bot.salla.calls == []


def at(day: str, hhmm: str):
    from datetime import datetime

    from sync_core.audit import RIYADH

    return lambda: datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=RIYADH)


async def test_the_daily_audit_is_posted_once_a_day_across_replicas(bot):
    """Two replicas' clocks tick at 07:01 Riyadh on 2026-11-21: yesterday's audit (2026-11-20, 1001
    missing) is posted once, with its button; before 07:00 nothing is."""
    from bot.app import worker_of
    from bot.daily_audit import DailyAudit

    worker = worker_of(bot.app)
    early = DailyAudit(worker, "C0AUDIT", "07:00", now=at("2026-11-21", "06:59"))
    assert await early.tick() is None and bot.slack.top_level("C0AUDIT") == []
    replicas = [DailyAudit(worker, "C0AUDIT", "07:00", now=at("2026-11-21", "07:01")) for _ in range(2)]
    posted = await asyncio.gather(*(r.tick() for r in replicas))
    assert sum(p is not None for p in posted) == 1
    await bot.idle()
    [parent] = bot.slack.top_level("C0AUDIT")
    assert "Daily audit: which Salla invoices of 2026-11-20 are not in Enerpize" in parent.as_text()
    summary, missing = bot.slack.replies("C0AUDIT", parent.ts)
    assert "1 missing" in summary.as_text() and "[Sync 1 missing]" in summary.as_text()
    assert "`1001`" in missing.as_text()
    assert await replicas[0].tick() is None  # the day is done

    await bot.sync("1001")
    quiet = DailyAudit(worker, "C0QUIET", "07:00", now=at("2026-11-21", "07:05"))
    bot.threads.set_audit(posted[0] or posted[1], daily_for=None)  # as if yesterday had not been posted
    await quiet.tick()
    [line] = bot.slack.top_level("C0QUIET")
    assert line.as_text().startswith("✅ Daily audit of 2026-11-20: nothing missing (1 Salla invoice, all in Enerpize); "
                                     "that day: 0 synced automatically, 0 failed")
    assert bot.slack.replies("C0QUIET", line.ts) == []


async def test_more_than_100_missing_are_synced_as_runs_of_100_one_after_another(bot):
    bot.salla.invoices_per_page = 60
    for n in range(130):
        order = bot.salla.store.add_order(30_000 + n, customer=None, lines=[line("x", "10")],
                                          date="2026-10-07 12:00:00")
        bot.salla.store.add_invoice(order)
    parent = await audit(bot, "2026-10-07")
    summary, *missing = bot.slack.replies(CHANNEL, parent.ts)
    assert "130 missing" in summary.as_text() and "[Sync 130 missing]" in summary.as_text()
    assert sum(len(m.lines()) for m in missing) == 130
    await bot.send(bot.slack.click(CHANNEL, summary.ts, ActionId.SYNC_AUDIT_MISSING.value, user_id=USER))
    await bot.idle()
    runs = [r for r in bot.runs() if r.source == "audit"]
    assert [r.total for r in runs] == [100, 30]
    assert runs[1].finished_at >= runs[0].finished_at  # one after another
    lines = thread_lines(bot, parent.ts)
    assert sum("*Success*" in line for line in lines) == 130
    po_numbers = Counter(d.po_number for docs in bot.enerpize.documents.values() for d in docs)
    assert len(po_numbers) == 130 and all(count == 1 for count in po_numbers.values())


async def test_an_audit_left_half_done_by_a_dead_process_is_finished_in_its_thread(bot):
    """The process posted the parent and the progress reply, then died while reading Salla: once
    its lease ran out, another process reads again and turns that reply into the summary."""
    from datetime import timedelta

    from bot.app import worker_of
    from bot.audits import resume_audits
    from bot.threads import SlackAudit
    from sync_core.store.tables import utcnow

    from bot.ui.audit import audit_parent, audit_progress
    from sync_core.audit import AuditProgress

    worker = worker_of(bot.app)
    parent_ts = await worker.out.post(CHANNEL, audit_parent(USER, "2026-11-20"))
    progress_ts = await worker.out.post(CHANNEL, audit_progress(AuditProgress()), thread_ts=parent_ts)
    dead = bot.threads.add_audit(SlackAudit(user_id=USER, channel_id=CHANNEL, days="2026-11-20", first_day="2026-11-20",
                                            last_day="2026-11-20", parent_ts=parent_ts, summary_ts=progress_ts,
                                            owner="dead", lease_until=utcnow() + timedelta(seconds=60)))
    assert await resume_audits(worker) == []  # its lease is still running
    bot.threads.set_audit(dead.id, lease_until=utcnow() - timedelta(seconds=1))
    assert await resume_audits(worker) == [dead.id]
    assert await resume_audits(worker) == []  # taken once
    await bot.idle()
    [parent] = bot.slack.top_level(CHANNEL)
    summary, missing = bot.slack.replies(CHANNEL, parent.ts)
    assert summary.ts == progress_ts and "1 missing" in summary.as_text()
    assert "`1001`" in missing.as_text()
    done = bot.threads.get_audit(dead.id)
    assert done.owner is None and done.lease_until is None and done.report


async def test_an_audits_missing_invoices_download_as_csv(bot):
    import csv
    import io

    parent = await audit(bot, "2026-11-01 2026-11-10")
    summary = bot.slack.replies(CHANNEL, parent.ts)[0]
    answer = await bot.send(bot.slack.click(CHANNEL, summary.ts, ActionId.DOWNLOAD_AUDIT_CSV.value, user_id=USER))
    assert (answer.status, answer.text) == (200, "")
    await bot.idle()
    [shared] = bot.slack.uploaded_files(CHANNEL)
    assert shared.thread_ts == parent.ts and shared.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(shared.content.decode("utf-8-sig"))))
    listed = [line for m in bot.slack.replies(CHANNEL, parent.ts)[1:] for line in m.lines()]
    assert len(rows) == len(listed) > 0
    assert {r["reference number"] for r in rows} == {line.split("`")[1] for line in listed}


async def test_an_audit_whose_process_died_before_recording_its_posts_posts_nothing_twice(bot):
    """The process posted the parent, the progress reply and the missing line, and died before it
    recorded any of them. The process that resumes the audit finds them in the channel: one parent,
    the progress reply turned into the summary, the missing line once."""
    from datetime import date, timedelta

    from bot.app import worker_of
    from bot.audits import resume_audits
    from bot.slack_io import once
    from bot.threads import SlackAudit
    from bot.ui.audit import audit_parent, audit_progress, missing_messages
    from sync_core.audit import AuditProgress, AuditRange
    from sync_core.store.tables import utcnow

    worker = worker_of(bot.app)
    dead = bot.threads.add_audit(SlackAudit(user_id=USER, channel_id=CHANNEL, days="2026-11-20", first_day="2026-11-20",
                                            last_day="2026-11-20", owner="dead",
                                            lease_until=utcnow() - timedelta(seconds=1)))
    report = await worker.service.audit.run(AuditRange(date(2026, 11, 20), date(2026, 11, 20)))
    [missing_line] = missing_messages(report)
    parent_ts = await worker.out.post(CHANNEL, audit_parent(USER, "2026-11-20"), metadata=once(f"audit {dead.id} parent"))
    progress_ts = await worker.out.post(CHANNEL, audit_progress(AuditProgress()), thread_ts=parent_ts,
                                        metadata=once(f"audit {dead.id} summary"))
    await worker.out.post(CHANNEL, missing_line, thread_ts=parent_ts, metadata=once(f"audit {dead.id} missing 0"))

    assert await resume_audits(worker) == [dead.id]
    await bot.idle()
    [parent] = bot.slack.top_level(CHANNEL)
    summary, missing = bot.slack.replies(CHANNEL, parent_ts)
    assert parent.ts == parent_ts and summary.ts == progress_ts and "1 missing" in summary.as_text()
    assert "`1001`" in missing.as_text()
    done = bot.threads.get_audit(dead.id)
    assert (done.parent_ts, done.summary_ts) == (parent_ts, progress_ts) and done.owner is None
