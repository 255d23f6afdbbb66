"""`/salla-sync`: ack at once, open the modal with the trigger_id; pre-filled; help; refusals."""

from __future__ import annotations

import json

from e2e_slack import CHANNEL, OTHER_USER, USER

from bot.ids import ActionId, BlockId, CallbackId


def the_input(view: dict) -> dict:
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert len(inputs) == 1
    return inputs[0]


async def test_the_command_acks_and_opens_the_modal_with_its_trigger(bot):
    request = bot.slack.command("", user_id=USER, channel_id=CHANNEL)
    answer = await bot.send(request)
    assert (answer.status, answer.text) == (200, "")  # an empty ack, at once

    [view] = await bot.slack.until(lambda: bot.slack.opened_views)
    [call] = bot.slack.calls("views.open")
    assert call.args["trigger_id"] == request.payload["trigger_id"]
    assert view["type"] == "modal" and view["callback_id"] == CallbackId.SYNC_MODAL.value
    assert view["title"]["text"] == "Salla Sync"
    assert view["submit"]["text"] == "Sync" and view["close"]["text"] == "Cancel"
    block = the_input(view)
    assert block["block_id"] == BlockId.NUMBERS.value
    assert block["label"]["text"] == "Order / Reference Number"
    assert not block.get("optional", False)  # required
    assert "up to 100" in block["hint"]["text"]
    element = block["element"]
    assert element["type"] == "plain_text_input" and element["multiline"] is True
    assert element["action_id"] == ActionId.NUMBERS_INPUT.value
    assert "initial_value" not in element
    metadata = json.loads(view["private_metadata"])
    assert metadata["channel_id"] == CHANNEL and metadata["user_id"] == USER
    assert metadata["response_url"] == request.payload["response_url"]
    # Nothing slow before views.open: Salla, Enerpize and the run tables are untouched.
    assert bot.salla.calls == [] and bot.enerpize.calls == []
    assert [c.method for c in bot.slack.calls()] == ["auth.test", "views.open"]
    assert bot.runs() == []


async def test_numbers_after_the_command_prefill_the_modal_one_a_line(bot):
    view = await bot.open_modal("1001 1002,1003")
    assert the_input(view)["element"]["initial_value"] == "1001\n1002\n1003"


async def test_help_answers_ephemerally_with_usage(bot):
    answer = await bot.command("help")
    assert answer.status == 200
    body = answer.json()
    assert "/salla-sync 1001 1002" in body["text"] and "one a line" in body["text"]
    assert body["response_type"] == "ephemeral"
    await bot.idle()
    assert not bot.slack.calls("views.open")


async def test_a_user_not_allowed_is_refused_and_nothing_opens(make_bot):
    bot = await make_bot(salla_sync_allowed_users=OTHER_USER)
    answer = await bot.command("1001", user=USER)
    assert answer.status == 200
    assert "not on the list" in answer.json()["text"]
    await bot.idle()
    assert not bot.slack.calls("views.open") and bot.runs() == []


async def test_a_channel_not_allowed_is_refused_and_nothing_opens(make_bot):
    bot = await make_bot(salla_sync_allowed_channels="C0FINANCE")
    answer = await bot.command("", channel=CHANNEL)
    assert "can't be run from this channel" in answer.json()["text"]
    allowed = await bot.command("", channel="C0FINANCE")
    assert allowed.text == ""
    await bot.slack.until(lambda: bot.slack.opened_views)
    assert len(bot.slack.calls("views.open")) == 1


async def test_an_expired_trigger_is_explained_to_the_user(bot):
    request = bot.slack.command("", user_id=USER, channel_id=CHANNEL)
    bot.slack.expire_trigger(request.payload["trigger_id"])
    answer = await bot.send(request)
    assert answer.status == 200
    [told] = await bot.slack.until(lambda: bot.slack.ephemerals(USER))
    assert "took too long" in told.text and "Traceback" not in told.text
    assert told.via == "response_url"
    assert bot.slack.calls("views.open")[0].error == "expired_trigger_id"
