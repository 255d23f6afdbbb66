"""The modal's submission: broken input rules come back inline on the input's block; nothing runs."""

from __future__ import annotations

import pytest

from bot.ids import BlockId


@pytest.mark.parametrize("text, expected", [
    ("  \n \n", "Enter at least one"),
    ("\n".join(str(1000 + i) for i in range(101)), "101 numbers were given; 100 is the most"),
    ("1001\n1002, 1003", 'Line 2 "1002, 1003": one number per line, no commas'),
    ("1001\n\n10 02", 'Line 3 "10 02": one number per line, no spaces inside a number'),
    ("1001\nINV-8841", 'Line 2 "INV-8841": not an order number'),
])
async def test_a_broken_rule_comes_back_inline_naming_the_line_and_nothing_runs(bot, text, expected):
    view = await bot.open_modal()
    answer = await bot.submit(view, text)
    assert answer.status == 200
    body = answer.json()
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [BlockId.NUMBERS.value]
    assert expected in body["errors"][BlockId.NUMBERS.value]
    await bot.idle()
    assert bot.runs() == []
    assert not bot.slack.calls("chat.postMessage") and not bot.slack.calls("chat.postEphemeral")
    assert bot.salla.calls == [] and bot.enerpize.calls == []


async def test_every_broken_line_is_named_and_the_message_stays_short(bot):
    view = await bot.open_modal()
    text = "\n".join(f"{n}, {n + 1}" for n in range(1000, 1090))  # 90 lines, each with a comma
    body = (await bot.submit(view, text)).json()
    message = body["errors"][BlockId.NUMBERS.value]
    assert message.startswith('Line 1 "1000, 1001": one number per line, no commas\nLine 2 ')
    assert len(message) <= 2000 and message.endswith("more problems")
    assert bot.runs() == []


async def test_cancel_sends_nothing_and_nothing_runs(bot):
    view = await bot.open_modal()
    mark = len(bot.slack.calls())
    assert not view.get("notify_on_close")  # Cancel just closes it; Slack tells the app nothing
    await bot.idle()
    assert bot.runs() == []
    # Even if Slack did tell (a view_closed, as it sends for views that ask for it): nothing runs, nothing is posted.
    reply = await bot.send(bot.slack.closing(view, user_id="U0ALICE"))
    assert reply.status in (200, 404) and "Traceback" not in reply.text
    await bot.idle()
    assert bot.runs() == []
    assert bot.slack_calls_since(mark) == []


async def test_a_valid_submission_closes_the_modal_with_an_empty_ack_after_storing_the_run(bot):
    view = await bot.open_modal()
    answer = await bot.submit(view, "#1001\n١٠٠٢\n1001")
    assert (answer.status, answer.text) == (200, "")
    [run] = bot.runs()  # stored before the ack
    assert run.number_list == ["1001", "1002"] and run.requested_by == "U0ALICE" and run.source == "slack"
    await bot.idle()


async def test_when_the_run_cannot_be_stored_the_modal_stays_open_with_a_sentence(bot, monkeypatch):
    from sqlalchemy.exc import OperationalError

    async def broken(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(bot.service.engine, "submit", broken)
    view = await bot.open_modal()
    body = (await bot.submit(view, "1001")).json()
    assert body["response_action"] == "errors"
    message = body["errors"][BlockId.NUMBERS.value]
    assert "database" in message and "disk I/O" not in message and "Traceback" not in message
    await bot.idle()
    assert not bot.slack.calls("chat.postMessage")
