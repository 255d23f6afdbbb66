"""The thread's buttons: Cancel (while running) and "Re-run failed (N)" (when done)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import alerts, audits, buttons
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
    def run_button(verb: str, start: Callable[..., Awaitable[Any]]):
        """A button on a run's thread: ack, check the user, hand the work to the worker."""

        async def listener(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
            await ack()
            notify = _notifier(deps, body)
            user = body["user"]["id"]
            run_id = _run_id(action)
            if not deps.access.user_allowed(user):
                deps.after_ack(notify(f"Sorry, only people allowed to run Salla syncs can {verb} one."), body=body,
                               context=context)
            elif run_id is not None:
                deps.after_ack(start(run_id, user, notify), body=body, context=context, name=f"{verb}-{run_id}")

        return listener

    async def cancel(run_id: int, user: str, notify) -> None:
        await buttons.cancel(deps.worker, run_id, user, notify)

    async def rerun(run_id: int, user: str, notify) -> None:
        await buttons.rerun(deps.worker, run_id, user, notify)

    async def sync_audit(audit_id: int, user: str, notify) -> None:
        await audits.sync_missing(deps.worker, audit_id, user, notify)

    cancel_run = run_button("cancel", cancel)
    rerun_failed = run_button("re-run", rerun)
    sync_missing = run_button("sync", sync_audit)

    async def csv_file(run_id: int, user: str, notify) -> None:
        await buttons.download_csv(deps.worker, run_id, user, notify)

    app.action(ActionId.DOWNLOAD_CSV.value)(run_button("download", csv_file))

    async def retry_alert(alert_id: int, user: str, notify) -> None:
        await alerts.retry(deps.worker, alert_id, user, notify)

    app.action(ActionId.RETRY_ALERT.value)(run_button("retry", retry_alert))

    async def audit_file(audit_id: int, user: str, notify) -> None:
        await audits.download_csv(deps.worker, audit_id, user, notify)

    app.action(ActionId.DOWNLOAD_AUDIT_CSV.value)(run_button("download", audit_file))
    app.action(ActionId.SYNC_AUDIT_MISSING.value)(sync_missing)
    app.action(ActionId.CANCEL_RUN.value)(cancel_run)
    app.action(ActionId.RERUN_FAILED.value)(rerun_failed)
