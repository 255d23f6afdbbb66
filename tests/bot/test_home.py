"""App Home: the Invoice Sync Log (newest first, filter by status) and "Sync New Order" -> results in the DM."""

from __future__ import annotations

import json

from e2e_slack import OTHER_USER, USER, lines_for, result_lines

from bot.ids import ActionId, BlockId


def record_sections(view: dict) -> list[dict]:
    return [b for b in view["blocks"] if b["type"] == "section" and b.get("fields")]


def field_values(section: dict) -> dict[str, str]:
    values = {}
    for item in section["fields"]:
        name, _, value = item["text"].partition("\n")
        values[name.strip("*")] = value
    return values


async def open_home(bot, user: str = USER) -> dict:
    published = len(bot.slack.calls("views.publish"))
    answer = await bot.send(bot.slack.home_opened(user))
    assert answer.status == 200
    # An event is acked before its listener runs: wait for the publish itself.
    await bot.slack.until(lambda: len(bot.slack.calls("views.publish")) > published)
    await bot.idle()
    view = bot.slack.home(user)
    assert view is not None
    return view


async def test_the_home_tab_shows_the_invoice_sync_log_newest_first(bot):
    await bot.sync("1001\n1002\n1011\n1099")
    view = await open_home(bot)

    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert view["blocks"][0]["text"]["text"] == "Invoice Sync Log"
    rows = [field_values(s) for s in record_sections(view)]
    assert len(rows) == len(bot.store.log(limit=100)) == 5  # 1002 has an invoice and a return
    assert [r["Number"] for r in rows] == [f"`{r.number}`" for r in bot.store.log(limit=100)]  # newest first
    assert set(rows[0]) == {"Number", "Salla order", "Type", "Status", "Enerpize number", "Amount", "Reason", "Time",
                            "Run"}
    by_number = {}
    for row in rows:
        by_number.setdefault(row["Number"], []).append(row)
    [one] = by_number["`1001`"]
    assert one["Salla order"] == "418149270" and one["Type"] == "invoice" and one["Status"] == "Success"
    invoice = next(d for d in bot.enerpize.documents["invoices"] if d.po_number == "SALLA-560001")
    assert one["Amount"] == "310.50 SAR" and one["Enerpize number"] == invoice.no
    assert sorted(r["Type"] for r in by_number["`1002`"]) == ["invoice", "return"]
    assert by_number["`1011`"][0]["Status"] == "Failed" and "under_review" in by_number["`1011`"][0]["Reason"]
    assert by_number["`1099`"][0]["Status"] == "Record not found"

    controls = next(b for b in view["blocks"] if b.get("block_id") == BlockId.HOME_CONTROLS.value)
    kinds = {e["action_id"]: e for e in controls["elements"]}
    assert kinds[ActionId.HOME_SYNC_NEW.value]["text"]["text"] == "Sync New Order"
    options = [o["value"] for o in kinds[ActionId.HOME_STATUS_FILTER.value]["options"]]
    assert options == ["All", "Success", "Failed", "Record not found", "Cancelled"]


async def test_the_status_filter_republishes_the_log_filtered_and_remembers_it(bot):
    await bot.sync("1001\n1011\n1016\n1099")
    await open_home(bot)
    await bot.send(bot.slack.home_action(USER, ActionId.HOME_STATUS_FILTER.value, selected="Failed"))
    await bot.idle()
    view = bot.slack.home(USER)
    statuses = [field_values(s)["Status"] for s in record_sections(view)]
    assert statuses == ["Failed", "Failed"]
    reopened = await open_home(bot)  # the filter stays when the tab is opened again
    assert [field_values(s)["Status"] for s in record_sections(reopened)] == ["Failed", "Failed"]


async def test_sync_new_order_opens_the_same_modal_and_answers_in_the_dm(bot):
    await open_home(bot)
    answer = await bot.send(bot.slack.home_action(USER, ActionId.HOME_SYNC_NEW.value))
    assert answer.status == 200
    await bot.idle()
    [view] = bot.slack.opened_views
    assert json.loads(view["private_metadata"]) == {"origin": "home", "user_id": USER}
    label = next(b for b in view["blocks"] if b["type"] == "input")["label"]["text"]
    assert label == "Order / Reference Number"

    submitted = await bot.submit(view, "1001\n1099")
    assert (submitted.status, submitted.text) == (200, "")
    await bot.idle()

    thread = bot.last_thread()
    dm = bot.slack.dm_channel_of(USER)
    assert thread.channel_id == dm and bot.slack.calls("conversations.open")
    [parent] = bot.slack.top_level(dm)
    assert "started a sync of 2 orders from the App Home" in parent.as_text()
    lines = result_lines(bot.slack, thread)
    assert lines_for(lines, "1001") and lines_for(lines, "1099")


async def test_someone_not_allowed_sees_no_log_and_no_sync_button(make_bot):
    bot = await make_bot(salla_sync_allowed_users=OTHER_USER)
    view = await open_home(bot, USER)
    text = json.dumps(view)
    assert "not on the list" in text and ActionId.HOME_SYNC_NEW.value not in text
    allowed = await open_home(bot, OTHER_USER)
    assert ActionId.HOME_SYNC_NEW.value in json.dumps(allowed)


async def test_find_unsynced_orders_audits_the_picked_days_in_the_users_dm(bot):
    view = await open_home(bot)
    pickers = [e for b in view["blocks"] if b.get("block_id") == BlockId.HOME_AUDIT.value for e in b["elements"]]
    assert [e["type"] for e in pickers] == ["datepicker", "datepicker", "button"]
    dates = {ActionId.HOME_AUDIT_FROM.value: "2026-11-20", ActionId.HOME_AUDIT_TO.value: "2026-11-20"}
    picked = await bot.send(bot.slack.home_action(USER, ActionId.HOME_AUDIT_FROM.value, dates=dates))
    assert picked.status == 200  # picking a day is acked, nothing else
    answer = await bot.send(bot.slack.home_action(USER, ActionId.HOME_AUDIT_FIND.value, dates=dates))
    assert (answer.status, answer.text) == (200, "")
    await bot.idle()
    dm = bot.slack.dm_channel_of(USER)
    [parent] = bot.slack.top_level(dm)
    assert "which Salla invoices of 2026-11-20 are not in Enerpize" in parent.as_text()
    summary, missing = bot.slack.replies(dm, parent.ts)
    assert "1 missing" in summary.as_text() and "`1001`" in missing.as_text()

    reversed_days = {ActionId.HOME_AUDIT_FROM.value: "2026-11-20", ActionId.HOME_AUDIT_TO.value: "2026-11-01"}
    await bot.send(bot.slack.home_action(USER, ActionId.HOME_AUDIT_FIND.value, dates=reversed_days))
    await bot.idle()
    told = bot.slack.top_level(dm)[-1]
    assert "I can't audit that: the range ends (2026-11-01) before it starts (2026-11-20)." in told.as_text()


async def test_the_log_filters_by_person_and_days_pages_and_links_each_row_to_its_thread(bot, monkeypatch):
    from bot.listeners import home as listener
    from bot.ui import home

    monkeypatch.setattr(home, "rows_per_page", lambda: 2)  # pages of two rows
    monkeypatch.setattr(listener, "rows_per_page", lambda: 2)
    await bot.sync("1001\n1099", user=USER)
    await bot.sync("1011", user=OTHER_USER)
    view = await open_home(bot)
    context = next(b for b in view["blocks"] if b["type"] == "context")["elements"][0]["text"]
    assert "in all: 1 Failed, 1 Record not found, 1 Success" in context
    first_page = [field_values(s) for s in record_sections(view)]
    assert len(first_page) == 2 and all(r["Run"].startswith("<https://slack.com/archives/") for r in first_page)
    run = bot.store.recent_runs(1)[0]
    thread = bot.threads.get(run.id)
    assert first_page[0]["Run"] == f"<https://slack.com/archives/{thread.channel_id}/p{thread.parent_ts.replace('.', '')}|run {run.id}>"

    await bot.send(bot.slack.home_action(USER, ActionId.HOME_OLDER.value))
    await bot.idle()
    older = [field_values(s) for s in record_sections(bot.slack.home(USER))]
    assert len(older) == 1 and older[0]["Number"] not in {r["Number"] for r in first_page}
    await bot.send(bot.slack.home_action(USER, ActionId.HOME_NEWER.value))
    await bot.idle()
    assert [field_values(s) for s in record_sections(bot.slack.home(USER))] == first_page

    await bot.send(bot.slack.home_action(USER, ActionId.HOME_PERSON_FILTER.value, selected=OTHER_USER))
    await bot.idle()
    mine = bot.slack.home(USER)
    assert [field_values(s)["Number"] for s in record_sections(mine)] == ["`1011`"]
    assert "in all: 1 Failed" in next(b for b in mine["blocks"] if b["type"] == "context")["elements"][0]["text"]

    await bot.send(bot.slack.home_action(USER, ActionId.HOME_LOG_FROM.value, selected="2099-01-01"))
    await bot.idle()
    later = bot.slack.home(USER)
    assert record_sections(later) == [] and "Nothing matches these filters." in json.dumps(later)
    reopened = await open_home(bot)  # the filters stay when the tab is opened again
    assert record_sections(reopened) == [] and json.loads(reopened["private_metadata"])["person"] == OTHER_USER
