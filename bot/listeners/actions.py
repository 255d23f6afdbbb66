"""The thread's buttons: Cancel (while running) and "Re-run failed (N)" (when done)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.deps import Deps
from bot.errors import tell_user
from bot.ids import ActionId


def _notifier(deps: Deps, body: dict[str, Any]):
    user = (body.get("user") or {}).get("id")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    response_url = body.get("response_url")

    async def notify(text: str) -> None:
        await tell_user(deps.worker.out, text, user_id=user, channel_id=channel, response_url=response_url)

    return notify


def _run_id(action: dict[str, Any]) -> int | None:
    value = str(action.get("value") or "")
    return int(value) if value.isdigit() else None


def register(app: AsyncApp, deps: Deps) -> None:
    async def cancel_run(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
        await ack()
        notify = _notifier(deps, body)
        user = body["user"]["id"]
        run_id = _run_id(action)
        if not deps.access.user_allowed(user):
            deps.after_ack(notify("Sorry, only people allowed to run Salla syncs can cancel one."), body=body,
                           context=context)
        elif run_id is not None:
            deps.after_ack(deps.worker.cancel(run_id, user, notify), body=body, context=context,
                           name=f"cancel-{run_id}")

    async def rerun_failed(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
        await ack()
        notify = _notifier(deps, body)
        user = body["user"]["id"]
        run_id = _run_id(action)
        if not deps.access.user_allowed(user):
            deps.after_ack(notify("Sorry, only people allowed to run Salla syncs can re-run one."), body=body,
                           context=context)
        elif run_id is not None:
            deps.after_ack(deps.worker.rerun(run_id, user, notify), body=body, context=context,
                           name=f"rerun-{run_id}")

    app.action(ActionId.CANCEL_RUN.value)(cancel_run)
    app.action(ActionId.RERUN_FAILED.value)(rerun_failed)
