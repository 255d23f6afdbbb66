"""The App Home tab: the Invoice Sync Log, its status filter, and "Sync New Order" (results to the DM)."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import ModalContext, Origin
from bot.deps import Deps
from bot.audits import run_audit
from bot.errors import tell_user
from bot.ids import ActionId, BlockId
from bot.ui.home import home_view, refused_home_view, status_filter
from bot.ui.modal import sync_modal
from sync_core.audit import AuditRange, AuditRangeError


async def publish_home(deps: Deps, user_id: str, status: str | None = None) -> None:
    if not deps.access.user_allowed(user_id):
        view = refused_home_view("You are not on the list of people allowed to use Salla Sync. Ask an admin.")
    else:
        records = await asyncio.to_thread(deps.service.store.log, status=status, limit=deps.tuning.home_log_limit)
        view = home_view(records, status=status, can_sync=deps.access.refusal(user_id, from_home=True) is None)
    await deps.client.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, deps: Deps) -> None:
    async def home_opened(event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        if event.get("tab", "home") != "home":
            return
        view = event.get("view") or {}
        current = status_filter(view.get("private_metadata")) if view.get("type") == "home" else None
        deps.after_ack(publish_home(deps, event["user"], current), body=body, context=context, name="home")

    async def filter_changed(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
        await ack()
        selected = (action.get("selected_option") or {}).get("value")
        deps.after_ack(publish_home(deps, body["user"]["id"], status_filter(selected)), body=body, context=context,
                       name="home-filter")

    async def sync_new_order(ack: AsyncAck, body: dict[str, Any], context: Any) -> None:
        await ack()
        user = body["user"]["id"]
        if deps.access.refusal(user, from_home=True):
            deps.after_ack(publish_home(deps, user), body=body, context=context, name="home")
            return
        modal = sync_modal(ModalContext(origin=Origin.HOME, user_id=user))
        deps.after_ack(deps.client.views_open(trigger_id=body["trigger_id"], view=modal), body=body,
                       context=context, name="open-modal")

    async def day_picked(ack: AsyncAck) -> None:
        await ack()  # read when "Find unsynced orders" is pressed

    async def find_unsynced(ack: AsyncAck, body: dict[str, Any], context: Any) -> None:
        """Audit the two picked days; the thread is in the user's DM (a bad range is told there too)."""
        await ack()
        user = body["user"]["id"]
        if deps.access.refusal(user, from_home=True):
            deps.after_ack(publish_home(deps, user), body=body, context=context, name="home")
            return
        picked = ((body.get("view") or {}).get("state") or {}).get("values", {}).get(BlockId.HOME_AUDIT.value, {})
        first = (picked.get(ActionId.HOME_AUDIT_FROM.value) or {}).get("selected_date")
        last = (picked.get(ActionId.HOME_AUDIT_TO.value) or {}).get("selected_date")

        async def audit_in_dm() -> None:
            channel = await deps.worker.out.dm_channel(user)
            try:
                days = AuditRange.parse(first, last)
            except AuditRangeError as exc:
                await tell_user(deps.worker.out, f"I can't audit that: {exc}.", user_id=user)
                return
            await run_audit(deps.worker, days, user_id=user, channel_id=channel)

        deps.after_ack(audit_in_dm(), body=body, context=context, name="home-audit")

    app.event("app_home_opened")(home_opened)
    app.action(ActionId.HOME_AUDIT_FROM.value)(day_picked)
    app.action(ActionId.HOME_AUDIT_TO.value)(day_picked)
    app.action(ActionId.HOME_AUDIT_FIND.value)(find_unsynced)
    app.action(ActionId.HOME_STATUS_FILTER.value)(filter_changed)
    app.action(ActionId.HOME_SYNC_NEW.value)(sync_new_order)
