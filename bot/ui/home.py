"""The App Home tab: the "Invoice Sync Log", newest first, filtered by status, person and days,
paged (Older / Newer) within Slack's 100 blocks, each row linking to its run's thread, the counts
of the chosen range at the top; "Sync New Order"; "Find unsynced orders" between two days (its
audit answers in the user's DM). The filters travel in the view's ``private_metadata``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

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
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.ids import ActionId, BlockId, CallbackId
from bot.ui.limits import HOME_MAX_BLOCKS, escape, truncate
from sync_core.audit import DEFAULT_DAYS, today_in_riyadh
from sync_core.results import SyncStatus
from sync_core.store.tables import SyncRecord, as_utc

ALL = "All"
FILTERS = [ALL] + [status.value for status in SyncStatus]
REASON_MAX = 300
BLOCKS_PER_RECORD = 2
FIXED_BLOCKS = 7  # header, controls, filters, audit, counts, divider, pages


@dataclass(frozen=True)
class LogFilter:
    """What the Home tab's log shows: a status, a person, a range of days (Asia/Riyadh), a page."""

    status: str | None = None
    person: str | None = None
    first: str | None = None  # YYYY-MM-DD
    last: str | None = None
    page: int = 0

    def dump(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v})

    @classmethod
    def load(cls, text: str | None) -> LogFilter:
        """From a view's private_metadata (a bare status, as older views carry, still reads)."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls(status=status_filter(text))
        if not isinstance(data, dict):
            return cls()
        page = data.get("page")
        return cls(status=status_filter(data.get("status")), person=data.get("person") or None,
                   first=data.get("first") or None, last=data.get("last") or None,
                   page=page if isinstance(page, int) and page >= 0 else 0)

    def but(self, **changes) -> LogFilter:
        """The same filter changed; back to the first page unless the page is what changes."""
        return replace(self, **{"page": 0, **changes})


def status_filter(value: str | None) -> str | None:
    """The status to filter on, or None for all; anything unknown means all."""
    return value if value in FILTERS and value != ALL else None


def _when(moment: datetime) -> str:
    moment = as_utc(moment)
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def record_block(record: SyncRecord, thread_link: str | None = None) -> SectionBlock:
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
        f"*Run*\n<{thread_link}|run {record.run_id}>" if thread_link else f"*Run*\n{record.run_id}",
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


def _log_filters(log: LogFilter) -> ActionsBlock:
    return ActionsBlock(block_id=BlockId.HOME_FILTERS.value, elements=[
        UserSelectElement(action_id=ActionId.HOME_PERSON_FILTER.value, placeholder="Anyone", initial_user=log.person),
        DatePickerElement(action_id=ActionId.HOME_LOG_FROM.value, placeholder="Logged from", initial_date=log.first),
        DatePickerElement(action_id=ActionId.HOME_LOG_TO.value, placeholder="Logged to", initial_date=log.last),
    ])


def _pages(log: LogFilter, has_older: bool) -> ActionsBlock | None:
    buttons = []
    if log.page > 0:
        buttons.append(ButtonElement(text="Newer", action_id=ActionId.HOME_NEWER.value, value=str(log.page - 1)))
    if has_older:
        buttons.append(ButtonElement(text="Older", action_id=ActionId.HOME_OLDER.value, value=str(log.page + 1)))
    return ActionsBlock(block_id=BlockId.HOME_PAGES.value, elements=buttons) if buttons else None


def rows_per_page() -> int:
    return (HOME_MAX_BLOCKS - FIXED_BLOCKS) // BLOCKS_PER_RECORD


def home_view(records: Sequence[SyncRecord], *, log: LogFilter | None = None, status: str | None = None,
              can_sync: bool = True, notice: str | None = None, counts: Mapping[str, int] | None = None,
              has_older: bool = False, thread_links: Mapping[int, str] | None = None) -> View:
    log = log or LogFilter(status=status)
    status = log.status
    blocks: list[Block] = [HeaderBlock(text="Invoice Sync Log"), _controls(status, can_sync), _log_filters(log)]
    if can_sync:
        blocks.append(_audit_controls())
    shown = list(records)[:rows_per_page()]
    about = f"Newest first · {len(shown)} entr{'y' if len(shown) == 1 else 'ies'}"
    about += f" (page {log.page + 1})" if log.page or has_older else ""
    about += f" · status: {status}" if status else " · all statuses"
    if log.person:
        about += f" · asked by <@{log.person}>"
    if log.first or log.last:
        about += f" · logged {log.first or '…'} to {log.last or 'today'}"
    if counts is not None:
        about += " · in all: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if n) or "nothing")
    if notice:
        about = f"{notice} · {about}"
    blocks += [ContextBlock(elements=[MarkdownTextObject(text=about)]), DividerBlock()]
    if not shown:
        empty = f"No {status} entries yet." if status else "Nothing has been synced yet."
        if log.person or log.first or log.last:
            empty = "Nothing matches these filters."
        elif can_sync:
            empty += " Use *Sync New Order* or `/salla-sync` in a channel."
        blocks.append(SectionBlock(text=MarkdownTextObject(text=empty)))
    for record in shown:
        blocks += [record_block(record, (thread_links or {}).get(record.run_id)), DividerBlock()]
    pages = _pages(log, has_older)
    if pages is not None:
        blocks.append(pages)
    view = View(type="home", callback_id=CallbackId.HOME.value, blocks=blocks, private_metadata=log.dump())
    view.to_dict()  # slack-sdk's checks (≤ 100 blocks, field lengths) run here
    return view


def refused_home_view(reason: str) -> View:
    return View(type="home", callback_id=CallbackId.HOME.value, blocks=[
        HeaderBlock(text="Invoice Sync Log"),
        SectionBlock(text=MarkdownTextObject(text=escape(reason))),
    ])
