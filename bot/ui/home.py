"""The App Home tab: the "Invoice Sync Log", newest first, with a status filter, "Sync New Order",
and "Find unsynced orders" between two days (its audit answers in the user's DM)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.ids import ActionId, BlockId, CallbackId
from bot.ui.limits import HOME_MAX_BLOCKS, escape, truncate
from sync_core.audit import DEFAULT_DAYS, today_in_riyadh
from sync_core.results import SyncStatus
from sync_core.store.tables import SyncRecord

ALL = "All"
FILTERS = [ALL] + [status.value for status in SyncStatus]
REASON_MAX = 300
BLOCKS_PER_RECORD = 2
FIXED_BLOCKS = 5


def status_filter(value: str | None) -> str | None:
    """The status to filter on, or None for all; anything unknown means all."""
    return value if value in FILTERS and value != ALL else None


def _when(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def record_block(record: SyncRecord) -> SectionBlock:
    salla = str(record.salla_order_id) if record.salla_order_id else "—"
    if record.salla_reference and str(record.salla_reference) != record.number:
        salla += f" (ref {record.salla_reference})"
    amount = f"{record.amount} {record.currency or ''}".strip() if record.amount else "—"
    fields = [
        f"*Number*\n`{escape(record.number)}`",
        f"*Salla order*\n{salla}",
        f"*Type*\n{record.kind or '—'}",
        f"*Status*\n{record.status}",
        f"*Enerpize number*\n{escape(record.enerpize_number or record.enerpize_id or '—')}",
        f"*Amount*\n{escape(amount)}",
        f"*Reason*\n{escape(truncate(record.reason, REASON_MAX)) if record.reason else '—'}",
        f"*Time*\n{_when(record.created_at)}",
    ]
    return SectionBlock(fields=[MarkdownTextObject(text=field) for field in fields])


def _controls(current: str | None, can_sync: bool) -> ActionsBlock:
    options = [Option(value=value, label=value) for value in FILTERS]
    selected = next(option for option in options if option.value == (current or ALL))
    elements: list = []
    if can_sync:
        elements.append(ButtonElement(text="Sync New Order", action_id=ActionId.HOME_SYNC_NEW.value,
                                      value="open", style="primary"))
    elements.append(StaticSelectElement(action_id=ActionId.HOME_STATUS_FILTER.value, placeholder="Status",
                                        options=options, initial_option=selected))
    return ActionsBlock(block_id=BlockId.HOME_CONTROLS.value, elements=elements)


def _audit_controls() -> ActionsBlock:
    """Two days (the last week by default) and the button that audits them."""
    today = today_in_riyadh()
    return ActionsBlock(block_id=BlockId.HOME_AUDIT.value, elements=[
        DatePickerElement(action_id=ActionId.HOME_AUDIT_FROM.value, placeholder="From",
                          initial_date=(today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()),
        DatePickerElement(action_id=ActionId.HOME_AUDIT_TO.value, placeholder="To", initial_date=today.isoformat()),
        ButtonElement(text="Find unsynced orders", action_id=ActionId.HOME_AUDIT_FIND.value, value="audit"),
    ])


def home_view(records: Sequence[SyncRecord], *, status: str | None = None, can_sync: bool = True,
              notice: str | None = None) -> View:
    blocks: list[Block] = [HeaderBlock(text="Invoice Sync Log"), _controls(status, can_sync)]
    if can_sync:
        blocks.append(_audit_controls())
    shown = list(records)[: (HOME_MAX_BLOCKS - FIXED_BLOCKS) // BLOCKS_PER_RECORD]
    about = f"Newest first · {len(shown)} entr{'y' if len(shown) == 1 else 'ies'}"
    about += f" · status: {status}" if status else " · all statuses"
    if notice:
        about = f"{notice} · {about}"
    blocks += [ContextBlock(elements=[MarkdownTextObject(text=about)]), DividerBlock()]
    if not shown:
        empty = f"No {status} entries yet." if status else "Nothing has been synced yet."
        if can_sync:
            empty += " Use *Sync New Order* or `/salla-sync` in a channel."
        blocks.append(SectionBlock(text=MarkdownTextObject(text=empty)))
    for record in shown:
        blocks += [record_block(record), DividerBlock()]
    view = View(type="home", callback_id=CallbackId.HOME.value, blocks=blocks,
                private_metadata=status or ALL)
    view.to_dict()  # slack-sdk's checks (≤ 100 blocks, field lengths) run here
    return view


def refused_home_view(reason: str) -> View:
    return View(type="home", callback_id=CallbackId.HOME.value, blocks=[
        HeaderBlock(text="Invoice Sync Log"),
        SectionBlock(text=MarkdownTextObject(text=escape(reason))),
    ])
