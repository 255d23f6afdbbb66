"""The audit's thread: a parent in the channel, progress while Salla is read, then the summary
(counts, the ``Sync N missing`` button) and one line per missing invoice, in as few messages as
Block Kit allows."""

from __future__ import annotations

from collections import Counter
from datetime import date

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.ids import ActionId, BlockId
from bot.ui.limits import escape, message_blocks
from bot.ui.thread import SlackMessage, _plural, pack_lines, totals_text
from sync_core.audit import AuditProgress, AuditReport, MissingInvoice
from sync_core.money import fmt
from sync_core.results import SyncStatus


DAILY_USER = "daily"  # who "asked" for the daily audit (SlackAudit.user_id)


def audit_parent(user_id: str, days: str, *, totals: Counter[SyncStatus] | None = None,
                 synced_orders: int = 0) -> SlackMessage:
    if user_id == DAILY_USER:
        said = f"Daily audit: which Salla invoices of {days} are not in Enerpize"
    else:
        said = f"<@{user_id}> asked which Salla invoices of {days} are not in Enerpize"
    text = said
    if totals is not None:
        text += f"\n*Sync of {_plural(synced_orders, 'missing order')}:* {totals_text(totals)}"
    return SlackMessage(text=said, blocks=message_blocks([SectionBlock(text=MarkdownTextObject(text=text))]))


def daily_parent(day: date) -> SlackMessage:
    return audit_parent(DAILY_USER, day.isoformat())


def automatic_text(counts: dict[str, int]) -> str:
    """The day's automatic syncs, as the daily audit says them."""
    synced, failed = counts.get(SyncStatus.SUCCESS.value, 0), counts.get(SyncStatus.FAILED.value, 0)
    return f"that day: {synced} synced automatically, {failed} failed"


def daily_quiet(report: AuditReport, automatic: dict[str, int] | None = None) -> SlackMessage:
    """A day with nothing missing: one line, no thread."""
    text = (f"✅ Daily audit of {report.range}: nothing missing "
            f"({_plural(report.salla_invoices, 'Salla invoice')}, all in Enerpize)")
    if automatic is not None:
        text += f"; {automatic_text(automatic)}"
    return SlackMessage(text=text, blocks=message_blocks([ContextBlock(elements=[MarkdownTextObject(text=text)])]))


def daily_failed(day: date, reason: str) -> SlackMessage:
    text = f"❌ *The daily audit of {day.isoformat()} could not finish:* {escape(reason)}"
    return SlackMessage(text=text.replace("*", ""), blocks=message_blocks([SectionBlock(text=MarkdownTextObject(text=text))]))


def audit_progress(progress: AuditProgress) -> SlackMessage:
    if progress.invoices_checked:
        text = f"🔎 *Checking {_plural(progress.invoices_checked, 'invoice')} against Enerpize…*"
    elif progress.pages:
        text = f"🔎 *Reading Salla's invoices…* page {progress.pages_read} of {progress.pages}"
    else:
        text = "🔎 *Reading Salla's invoices…*"
    return SlackMessage(text=text.replace("*", ""), blocks=message_blocks([SectionBlock(text=MarkdownTextObject(text=text))]))


def _sync_button(audit_id: int, orders: int) -> ButtonElement:
    what = _plural(orders, "order")
    return ButtonElement(
        text=f"Sync {orders} missing", action_id=ActionId.SYNC_AUDIT_MISSING.value, value=str(audit_id),
        style="primary",
        confirm=ConfirmObject(title="Sync the missing orders?",
                              text=f"Sync {what} now; the results are posted in this thread.",
                              confirm="Sync", deny="Not now"),
    )


def audit_summary(audit_id: int, user_id: str, report: AuditReport, *,
                  synced_by: tuple[str, list[int]] | None = None, automatic: dict[str, int] | None = None) -> SlackMessage:
    """The counts, and the button while nobody pressed it (``synced_by`` = who, the runs started)."""
    missing = len(report.missing)
    head = "✅ *Nothing missing*" if not missing else f"⚠️ *{missing} missing from Enerpize*"
    text = (f"{head} — {report.range}: {_plural(report.salla_invoices, 'Salla invoice')}, "
            f"{report.in_enerpize} in Enerpize, {missing} missing")
    about = f"Audit {audit_id} · " + ("the daily audit" if user_id == DAILY_USER else f"asked by <@{user_id}>")
    if automatic is not None:
        about += f" · {automatic_text(automatic)}"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text)),
                           ContextBlock(elements=[MarkdownTextObject(text=about)])]
    orders = len(report.numbers_to_sync())
    controls: list[ButtonElement] = []
    if synced_by is not None:
        who, runs = synced_by
        which = ", ".join(str(r) for r in runs)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"↻ <@{who}> started syncing the {_plural(orders, 'missing order')} (run {which}); "
                 "the results follow below.")]))
    elif orders:
        controls.append(_sync_button(audit_id, orders))
    if report.missing:
        controls.append(ButtonElement(text="Download CSV", action_id=ActionId.DOWNLOAD_AUDIT_CSV.value,
                                      value=str(audit_id)))
    if controls:
        blocks.append(ActionsBlock(block_id=BlockId.AUDIT_CONTROLS.value, elements=controls))
    return SlackMessage(text=text.replace("*", ""), blocks=message_blocks(blocks))


def audit_failed(reason: str) -> SlackMessage:
    text = f"❌ *The audit could not finish:* {escape(reason)}"
    return SlackMessage(text=text.replace("*", ""), blocks=message_blocks([SectionBlock(text=MarkdownTextObject(text=text))]))


def missing_line(missing: MissingInvoice) -> str:
    number = f"`{missing.number}`" if missing.number else "(order gone from Salla)"
    kind = missing.kind.value if missing.kind else "unknown type"
    when = missing.date.isoformat() if missing.date else "no date"
    invoice = escape(missing.invoice_number or str(missing.salla_invoice_id))
    return f"🧾 {number} — {kind} {invoice} of {when}, {fmt(abs(missing.total))} {missing.currency}"


def missing_messages(report: AuditReport) -> list[SlackMessage]:
    packed = pack_lines([missing_line(m) for m in report.missing])
    messages = []
    for index, sections in enumerate(packed, start=1):
        blocks = [SectionBlock(text=MarkdownTextObject(text=section)) for section in sections]
        part = f" (part {index} of {len(packed)})" if len(packed) > 1 else ""
        messages.append(SlackMessage(text=f"Missing from Enerpize{part}", blocks=message_blocks(blocks)))
    return messages
