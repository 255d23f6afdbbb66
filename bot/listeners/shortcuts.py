""""Sync orders in message": a message shortcut that opens the form filled with the order numbers
the message mentions; the results are threaded under that message. The shortcut's trigger_id is
used at once (views.open, after the ack), before anything slow."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import ModalContext, Origin
from bot.deps import Deps
from bot.errors import tell_user
from bot.ids import CallbackId
from bot.ui.modal import sync_modal
from sync_core.input_rules import numbers_in_text


def register(app: AsyncApp, deps: Deps) -> None:
    async def sync_orders_in_message(ack: AsyncAck, shortcut: dict[str, Any], body: dict[str, Any],
                                     context: Any) -> None:
        await ack()
        user = (shortcut.get("user") or {}).get("id")
        channel = (shortcut.get("channel") or {}).get("id")
        message = shortcut.get("message") or {}
        refusal = deps.access.refusal(user, channel)
        if refusal:
            deps.after_ack(tell_user(deps.worker.out, refusal, user_id=user, channel_id=channel,
                                     response_url=shortcut.get("response_url")), body=body, context=context)
            return
        numbers, left_out = numbers_in_text(message.get("text"))
        metadata = ModalContext(origin=Origin.MESSAGE, user_id=user, channel_id=channel,
                                message_ts=message.get("thread_ts") or message.get("ts") or shortcut.get("message_ts"),
                                response_url=shortcut.get("response_url"))
        modal = sync_modal(metadata, "\n".join(numbers) or None, left_out=left_out)
        deps.after_ack(deps.client.views_open(trigger_id=shortcut["trigger_id"], view=modal), body=body,
                       context=context, name="open-modal")

    app.shortcut(CallbackId.MESSAGE_SHORTCUT.value)(sync_orders_in_message)
