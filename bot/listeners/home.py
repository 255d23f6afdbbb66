"""The App Home tab: the Invoice Sync Log, its status filter, and "Sync New Order" (results to the DM)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.context import ModalContext, Origin
from bot.deps import Deps
from bot.audits import run_audit
from bot.errors import tell_user
from bot.ids import ActionId, BlockId
from bot.ui.home import LogFilter, home_view, refused_home_view, rows_per_page, status_filter
from bot.ui.modal import sync_modal
from sync_core.audit import RIYADH, AuditRange, AuditRangeError


async def publish_home(deps: Deps, user_id: str, log: LogFilter | None = None) -> None:
    log = log or LogFilter()
    if not deps.access.user_allowed(user_id):
        view = refused_home_view("You are not on the list of people allowed to use Salla Sync. Ask an admin.")
    else:
        store = deps.service.store
        size = min(deps.tuning.home_log_limit, rows_per_page())
        since, until = _range(log)
        records = await asyncio.to_thread(store.log, status=log.status, limit=size + 1, offset=log.page * size,
                                          since=since, until=until, requested_by=log.person)
        counts = await asyncio.to_thread(store.log_counts, since=since, until=until, requested_by=log.person)
        threads = await asyncio.to_thread(deps.worker.threads.of_runs, (r.run_id for r in records[:size]))
        links = {run_id: f"https://slack.com/archives/{t.channel_id}/p{t.parent_ts.replace('.', '')}"
                 for run_id, t in threads.items() if t.channel_id and t.parent_ts}
        view = home_view(records[:size], log=log, can_sync=deps.access.refusal(user_id, from_home=True) is None,
                         counts=counts, has_older=len(records) > size, thread_links=links)
    await deps.client.views_publish(user_id=user_id, view=view)


def _range(log: LogFilter) -> tuple[datetime | None, datetime | None]:
    """The picked days as moments: from the first day's midnight to the day after the last (Riyadh)."""
    def day(text: str | None) -> date | None:
        try:
            return date.fromisoformat(text) if text else None
        except ValueError:
            return None

    first, last = day(log.first), day(log.last)
    since = datetime.combine(first, time(), RIYADH) if first else None
    until = datetime.combine(last + timedelta(days=1), time(), RIYADH) if last else None
    return since, until


def _shown(body: dict[str, Any]) -> LogFilter:
    """The filters of the Home tab the action came from."""
    view = body.get("view") or {}
    return LogFilter.load(view.get("private_metadata")) if view.get("type") == "home" else LogFilter()


def register(app: AsyncApp, deps: Deps) -> None:
    async def home_opened(event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        if event.get("tab", "home") != "home":
            return
        view = event.get("view") or {}
        current = LogFilter.load(view.get("private_metadata")) if view.get("type") == "home" else None
        deps.after_ack(publish_home(deps, event["user"], current), body=body, context=context, name="home")

    def refilter(change):
        """A filter of the log changed: publish the Home tab again, filtered."""

        async def listener(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], context: Any) -> None:
            await ack()
            log = change(_shown(body), action)
            deps.after_ack(publish_home(deps, body["user"]["id"], log), body=body, context=context,
                           name="home-filter")

        return listener

    filter_changed = refilter(lambda log, a: log.but(status=status_filter((a.get("selected_option") or {}).get("value"))))
    person_changed = refilter(lambda log, a: log.but(person=a.get("selected_user") or None))
    from_changed = refilter(lambda log, a: log.but(first=a.get("selected_date") or None))
    to_changed = refilter(lambda log, a: log.but(last=a.get("selected_date") or None))
    page_changed = refilter(lambda log, a: replace(log, page=max(0, int(a.get("value") or 0))))

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
    app.action(ActionId.HOME_PERSON_FILTER.value)(person_changed)
    app.action(ActionId.HOME_LOG_FROM.value)(from_changed)
    app.action(ActionId.HOME_LOG_TO.value)(to_changed)
    app.action(ActionId.HOME_OLDER.value)(page_changed)
    app.action(ActionId.HOME_NEWER.value)(page_changed)
    app.action(ActionId.HOME_SYNC_NEW.value)(sync_new_order)
