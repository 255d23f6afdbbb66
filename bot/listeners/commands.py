"""``/salla-sync``: ack at once, then open the modal with the command's trigger_id (nothing slow before)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import ModalContext, Origin
from bot.deps import Deps
from bot.ids import COMMAND
from bot.ui.modal import prefill, sync_modal
from sync_core.input_rules import MAX_NUMBERS

HELP_WORDS = {"help", "-h", "--help", "?", "usage"}

USAGE = (
    f"*{COMMAND}* syncs Salla orders into Enerpize as invoices and returns.\n"
    f"• `{COMMAND}` opens a form: paste up to {MAX_NUMBERS} order or reference numbers, one a line.\n"
    f"• `{COMMAND} 1001 1002` opens the form with those numbers filled in.\n"
    f"• `{COMMAND} help` shows this.\n"
    "The results come as replies in a thread in this channel: one line per order and document with "
    "`Success`, `Failed`, `Record not found` or `Cancelled`. Failed orders can be re-run with one click. "
    "The full log is in the app's Home tab."
)


def register(app: AsyncApp, deps: Deps) -> None:
    async def salla_sync(ack: AsyncAck, command: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        text = (command.get("text") or "").strip()
        if text.lower() in HELP_WORDS:
            await ack(text=USAGE, response_type="ephemeral")
            return
        user, channel = command.get("user_id"), command.get("channel_id")
        refusal = deps.access.refusal(user, channel)
        if refusal:
            await ack(text=refusal, response_type="ephemeral")
            return
        await ack()
        metadata = ModalContext(origin=Origin.COMMAND, user_id=user, channel_id=channel,
                                response_url=command.get("response_url"))
        modal = sync_modal(metadata, prefill(text))
        deps.after_ack(deps.client.views_open(trigger_id=command["trigger_id"], view=modal), body=body,
                       context=context, name="open-modal")

    app.command(COMMAND)(salla_sync)
