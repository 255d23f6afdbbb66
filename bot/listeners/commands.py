"""``/salla-sync``: ack at once, then open the modal with the command's trigger_id (nothing slow before)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import ModalContext, Origin
from bot.deps import Deps
from bot.ids import COMMAND
from bot.ui.modal import prefill, sync_modal
from bot.audits import run_audit
from sync_core.audit import AuditRange, AuditRangeError, today_in_riyadh
from sync_core.input_rules import MAX_NUMBERS

HELP_WORDS = {"help", "-h", "--help", "?", "usage"}
AUDIT_WORD = "audit"

USAGE = (
    f"*{COMMAND}* syncs Salla orders into Enerpize as invoices and returns.\n"
    f"• `{COMMAND}` opens a form: paste up to {MAX_NUMBERS} order or reference numbers, one a line.\n"
    f"• `{COMMAND} 1001 1002` opens the form with those numbers filled in.\n"
    f"• `{COMMAND} audit FROM [TO]` (days as YYYY-MM-DD, at most 92; alone: the last 7 days) finds the Salla "
    "invoices of those days that are not in Enerpize, with a button to sync them.\n"
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
        words = text.split()
        if words and words[0].lower() == AUDIT_WORD:
            try:
                days = AuditRange.parse(*(words[1:3] or [None]), today=today_in_riyadh()) if len(words) <= 3 else None
            except AuditRangeError as exc:
                await ack(text=f"I can't audit that: {exc}.", response_type="ephemeral")
                return
            if days is None:
                await ack(text=f"Usage: `{COMMAND} audit FROM [TO]`, days as YYYY-MM-DD.", response_type="ephemeral")
                return
            await ack()
            deps.after_ack(run_audit(deps.worker, days, user_id=user, channel_id=channel), body=body, context=context,
                           name="audit")
            return
        await ack()
        metadata = ModalContext(origin=Origin.COMMAND, user_id=user, channel_id=channel,
                                response_url=command.get("response_url"))
        modal = sync_modal(metadata, prefill(text))
        deps.after_ack(deps.client.views_open(trigger_id=command["trigger_id"], view=modal), body=body,
                       context=context, name="open-modal")

    app.command(COMMAND)(salla_sync)
