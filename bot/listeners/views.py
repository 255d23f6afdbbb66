"""The modal's submission: the core's input rules, then the run stored before the ack closes the modal."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import ModalContext, Origin
from bot.deps import Deps
from bot.errors import explain
from bot.ids import BlockId, CallbackId
from bot.ui.modal import error_text, submitted_text
from sync_core.input_rules import parse_order_numbers

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    async def sync_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user = body["user"]["id"]
        context = ModalContext.load(view.get("private_metadata")) or ModalContext(origin=Origin.HOME, user_id=user)
        parsed = parse_order_numbers(submitted_text(view))
        if not parsed.ok:
            await ack(response_action="errors", errors={BlockId.NUMBERS.value: error_text(parsed.errors)})
            return
        refusal = deps.access.refusal(user, context.channel_id, from_home=context.origin is Origin.HOME)
        if refusal:
            await ack(response_action="errors", errors={BlockId.NUMBERS.value: refusal})
            return
        try:
            run_id = await deps.worker.submit(parsed.numbers, context, user)
        except Exception as exc:  # keep the modal open: the numbers are still in it
            log.exception("could not store a run")
            await ack(response_action="errors", errors={BlockId.NUMBERS.value: explain(exc)})
            return
        await ack()  # empty: closes the modal
        deps.worker.launch(run_id)

    app.view(CallbackId.SYNC_MODAL.value)(sync_submitted)
