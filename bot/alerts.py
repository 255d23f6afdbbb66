"""The alerts channel: every order an automatic (webhook) sync leaves ``Failed`` is posted once in
``SALLA_SYNC_ALERTS_CHANNEL`` with a Retry button; the same order failing again edits its open
alert. Successes are quiet. Retry re-syncs the order as a run whose results are replies in the
alert's thread, then the alert says who resolved it, or that it still fails.

``AlertsReporter`` is the engine's reporter for webhook runs: how many of a run's failures are
posted is its report cursor, so a Slack outage delays alerts (the engine tries again) and loses
none, and a run resumed by another process posts no alert twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)
from sqlalchemy.exc import OperationalError

from bot.ids import ActionId, BlockId
from bot.runs import RunWorker
from bot.slack_io import PostedOnce, SlackOut, slack_unavailable
from bot.threads import SlackAlert, SlackThread, ThreadStore
from bot.ui.limits import escape, message_blocks, truncate
from bot.ui.thread import SlackMessage
from sync_core.engine import RunBusy, Work
from sync_core.reporting import LiveRun, QuietReporter, ReportCursor
from sync_core.results import OrderResult, SyncStatus
from sync_core.store.tables import RunSource, utcnow

log = logging.getLogger(__name__)

ALERT_ORIGIN = "alert"  # SlackThread.origin of a retry's run: its parent is the alert
REASON_MAX = 500


# Reasons that are a setting, not a moment's trouble, and who can change it: Retry alone will not help.
_SETTING_OWNERS = (
    (("Salla refused the access token", "Salla refused the token refresh", "reconnect the Salla app"),
     "ask whoever deploys salla-sync to reconnect the Salla app (new tokens)"),
    (("the API key was refused", "the API key has no permission"),
     "ask whoever deploys salla-sync to check ENERPIZE_API_KEY and its permissions in Enerpize"),
    (("Enerpize has no tax with the rate",), "ask an Enerpize admin to add that tax under Taxes"),
)


def who_to_ask(reason: str) -> str | None:
    """Whom to ask when the failure is a setting (None: Retry may do, or the reason says it)."""
    return next((owner for signs, owner in _SETTING_OWNERS if any(sign in reason for sign in signs)), None)


def alert_message(alert: SlackAlert, *, note: str | None = None) -> SlackMessage:
    shown = alert.reference or alert.number
    text = f"❌ Order `{escape(shown)}` *Failed* — {escape(truncate(alert.reason, REASON_MAX))}"
    owner = who_to_ask(alert.reason)
    if owner:
        text += f"\n:wrench: This is a setting: {escape(owner)}, then Retry."
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text)),
                           ContextBlock(elements=[MarkdownTextObject(text=f"Automatic sync · run {alert.run_id}"
                                                                     + (f" · {note}" if note else ""))])]
    if alert.resolved_by:
        blocks = [SectionBlock(text=MarkdownTextObject(
            text=f"✅ Order `{escape(shown)}` — resolved by <@{alert.resolved_by}>")), blocks[1]]
    elif alert.id is not None:
        blocks.append(ActionsBlock(block_id=BlockId.ALERT_CONTROLS.value, elements=[ButtonElement(
            text="Retry", action_id=ActionId.RETRY_ALERT.value, value=str(alert.id), style="primary",
            confirm=ConfirmObject(title="Sync this order again?", text="Its result is posted in this thread.",
                                  confirm="Retry", deny="Not now"))]))
    fallback = f"Order {shown}: " + ("resolved" if alert.resolved_by else f"Failed: {alert.reason}")
    return SlackMessage(text=fallback, blocks=message_blocks(blocks))


class AlertsReporter(QuietReporter):
    def __init__(self, out: SlackOut, threads: ThreadStore, channel_id: str) -> None:
        self.out = out
        self.threads = threads
        self.channel_id = channel_id

    async def report(self, live: LiveRun, results: Sequence[OrderResult], cursor: ReportCursor) -> bool:
        failed = [r for r in results if r.status is SyncStatus.FAILED]
        while cursor.position < len(failed):
            await self._alert(live.run_id, failed[cursor.position])
            if not await cursor.advance():
                return False
        return True

    async def _alert(self, run_id: int, result: OrderResult) -> None:
        reason = result.reason or "; ".join(d.reason or "" for d in result.documents
                                            if d.status is SyncStatus.FAILED) or "failed"
        reference = str(result.salla_reference) if result.salla_reference else None
        alert = await asyncio.to_thread(self.threads.open_alert, result.number)
        new = alert is None
        if alert is None:
            alert = await asyncio.to_thread(self.threads.add, SlackAlert(
                number=result.number, reference=reference, channel_id=self.channel_id, reason=reason, run_id=run_id))
        else:
            await asyncio.to_thread(self.threads.set_alert, alert.id, reason=reason, run_id=run_id)
            alert.reason, alert.run_id = reason, run_id
        if alert.ts is None:
            # An alert stored earlier without its ts: the process that posted it may have died before recording it.
            posts = PostedOnce(self.out, look_first=not new, since=alert.created_at)
            key = f"alert {alert.id}"
            ts = await posts.post(alert.channel_id, key, alert_message(alert))
            if key in posts.found_again:
                await self.out.update(alert.channel_id, ts, alert_message(alert))
            await asyncio.to_thread(self.threads.set_alert, alert.id, ts=ts)
        else:
            await self.out.update(alert.channel_id, alert.ts, alert_message(alert, note="failed again"))

    def may_work_later(self, exc: BaseException) -> bool:
        return slack_unavailable(exc) or isinstance(exc, OperationalError)

    async def give_up(self, live: LiveRun, exc: BaseException) -> None:
        log.error("run %s: could not post its alerts in %s (%s)", live.run_id, self.channel_id, type(exc).__name__)


async def retry(worker: RunWorker, alert_id: int, user_id: str, notify) -> int | None:
    """Re-sync the alert's order as a run answered in the alert's thread; then say how it went."""
    threads = worker.threads
    alert = await asyncio.to_thread(threads.get_alert, alert_id)
    if alert is None or alert.ts is None:
        await notify("I can't find that alert any more.")
        return None
    if alert.resolved_by:
        await notify(f"<@{alert.resolved_by}> already resolved that order.")
        return None

    def thread(run_id: int) -> list[SlackThread]:
        return [SlackThread(run_id=run_id, root_run_id=run_id, user_id=user_id, origin=ALERT_ORIGIN,
                            channel_id=alert.channel_id, parent_ts=alert.ts)]

    # The number a merchant reads, when Salla told it: an internal id typed as a number is first
    # looked up as a reference number, and another order could carry that one.
    run = await worker.engine.submit(Work(RunSource.SLACK, user_id, [alert.reference or alert.number], along=thread))
    assert run.id is not None
    try:
        await worker.engine.drive(run.id, worker.reporter())
    except RunBusy:
        return run.id
    [result] = await asyncio.to_thread(worker.service.store.run_results, run.id) or [None]
    if result is not None and result.status is SyncStatus.SUCCESS:
        await asyncio.to_thread(threads.set_alert, alert.id, resolved_by=user_id, resolved_at=utcnow())
        alert.resolved_by = user_id
        await worker.out.update(alert.channel_id, alert.ts, alert_message(alert, note=f"retried in run {run.id}"))
    else:
        await worker.out.update(alert.channel_id, alert.ts,
                                alert_message(alert, note=f"retried by <@{user_id}> in run {run.id}: still failing"))
    return run.id
