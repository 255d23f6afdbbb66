"""The run's thread: the parent message, the progress message that becomes the summary, the results.

Thread shape: one parent per run in the channel; everything else is a reply in its thread.
Each result line holds the number, exactly one status word and the detail, failures first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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
from bot.ui.limits import (
    MESSAGE_MAX_BLOCKS,
    MESSAGE_TEXT_BUDGET,
    SECTION_TEXT_MAX,
    escape,
    message_blocks,
    truncate,
)
from sync_core.results import OrderResult, ResultLine, SyncStatus, result_lines

# Failures first, successes last; within a status, the order the numbers were entered.
STATUS_ORDER = (SyncStatus.FAILED, SyncStatus.NOT_FOUND, SyncStatus.CANCELLED, SyncStatus.SUCCESS)
TOTALS_ORDER = (SyncStatus.SUCCESS, SyncStatus.FAILED, SyncStatus.NOT_FOUND, SyncStatus.CANCELLED)
EMOJI = {SyncStatus.SUCCESS: "✅", SyncStatus.FAILED: "❌", SyncStatus.NOT_FOUND: "🔍", SyncStatus.CANCELLED: "⏹"}
DETAIL_MAX = 300  # the full reason is in the App Home log and `salla-sync log`


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the notification fallback
    blocks: list[dict[str, Any]]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def count_statuses(results: Iterable[OrderResult]) -> Counter[SyncStatus]:
    return Counter(result.status for result in results)


def totals_text(counts: Counter[SyncStatus]) -> str:
    parts = [f"{counts[s]} {s.value}" for s in TOTALS_ORDER if counts.get(s)]
    return " · ".join(parts) if parts else "nothing yet"


# --- the parent ---------------------------------------------------------------------------------

def parent_message(user_id: str, total: int, *, from_home: bool = False,
                   totals: Counter[SyncStatus] | None = None, reruns: int = 0) -> SlackMessage:
    said = f"<@{user_id}> started a sync of {_plural(total, 'order')}"
    if from_home:
        said += " from the App Home"
    text = said
    if totals is not None:
        after = f" (after {_plural(reruns, 're-run')})" if reruns else ""
        text += f"\n*Totals{after}:* {totals_text(totals)}"
    blocks = [SectionBlock(text=MarkdownTextObject(text=text))]
    return SlackMessage(text=said, blocks=message_blocks(blocks))


# --- the progress message, later the summary ------------------------------------------------------

def _cancel_button(run_id: int) -> ButtonElement:
    return ButtonElement(
        text="Cancel", action_id=ActionId.CANCEL_RUN.value, value=str(run_id), style="danger",
        confirm=ConfirmObject(title="Cancel this sync?", text="Orders already started finish; the rest are not synced.",
                              confirm="Cancel the rest", deny="Keep going"),
    )


def _rerun_button(run_id: int, failed: int) -> ButtonElement:
    orders = _plural(failed, "failed order")
    return ButtonElement(
        text=f"Re-run failed ({failed})", action_id=ActionId.RERUN_FAILED.value, value=str(run_id), style="primary",
        confirm=ConfirmObject(title="Re-run the failed orders?",
                              text=f"Sync the {orders} again as a new run; the results are posted in this thread.",
                              confirm="Re-run", deny="Not now"),
    )


def _context(run_id: int, user_id: str, retry_of: int | None, extra: str | None = None) -> ContextBlock:
    text = f"Run {run_id} · started by <@{user_id}>"
    if retry_of is not None:
        text += f" · re-run of run {retry_of}"
    if extra:
        text += f" · {extra}"
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def progress_message(run_id: int, user_id: str, total: int, counts: Counter[SyncStatus], *,
                     retry_of: int | None = None, cancel_requested_by: str | None = None) -> SlackMessage:
    done = sum(counts.values())
    orders = _plural(total, "failed order" if retry_of is not None else "order")
    what = f"Re-running {orders}" if retry_of is not None else f"Syncing {orders}"
    text = f"⏳ *{what}…* {done} of {total} done"
    if done:
        text += f": {totals_text(counts)}"
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text)), _context(run_id, user_id, retry_of)]
    if cancel_requested_by:
        asked = f"Cancelling… (asked by <@{cancel_requested_by}>)"
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=asked)]))
    else:
        blocks.append(ActionsBlock(block_id=BlockId.RUN_CONTROLS.value, elements=[_cancel_button(run_id)]))
    return SlackMessage(text=f"{what}: {done} of {total} done", blocks=message_blocks(blocks))


def summary_message(run_id: int, user_id: str, results: Sequence[OrderResult], *, retry_of: int | None = None,
                    cancelled_by: str | None = None, duration: float | None = None,
                    rerun: tuple[str, int | None] | None = None) -> SlackMessage:
    """The finished run. ``rerun`` = (who, new run id) once someone re-ran its failures."""
    counts = count_statuses(results)
    failed = counts.get(SyncStatus.FAILED, 0)
    if cancelled_by:
        head = f"⏹ *Cancelled by <@{cancelled_by}>*"
    elif failed or counts.get(SyncStatus.NOT_FOUND):
        head = "⚠️ *Sync finished*"
    else:
        head = "✅ *Sync finished*"
    what = _plural(len(results), "order")
    if retry_of is not None:
        what = f"re-run of {what}"
    text = f"{head} — {what}: {totals_text(counts)}"
    extra = f"took {_duration(duration)}" if duration is not None else None
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text)), _context(run_id, user_id, retry_of, extra)]
    controls: list[ButtonElement] = []
    if rerun is not None:
        who, new_run = rerun
        started = f"↻ <@{who}> re-ran the {_plural(failed, 'failed order')}"
        started += f" (run {new_run}); the results follow below." if new_run else "."
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=started)]))
    elif failed:
        controls.append(_rerun_button(run_id, failed))
    controls.append(ButtonElement(text="Download CSV", action_id=ActionId.DOWNLOAD_CSV.value, value=str(run_id)))
    blocks.append(ActionsBlock(block_id=BlockId.RUN_CONTROLS.value, elements=controls))
    fallback = f"Sync finished: {totals_text(counts)}" if not cancelled_by else f"Sync cancelled: {totals_text(counts)}"
    return SlackMessage(text=fallback, blocks=message_blocks(blocks))


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


# --- the results -------------------------------------------------------------------------------

def line_text(line: ResultLine) -> str:
    text = f"{EMOJI[line.status]} `{escape(line.number)}` *{line.status.value}*"
    detail = escape(truncate(" ".join(line.detail.split()), DETAIL_MAX))
    return f"{text} — {detail}" if detail else text


def ordered_lines(results: Iterable[OrderResult]) -> list[str]:
    """Every result's lines (one per document), failures first, input order within a status."""
    rank = {status: index for index, status in enumerate(STATUS_ORDER)}
    ordered = sorted(results, key=lambda result: rank[result.status])  # stable
    return [line_text(line) for result in ordered for line in result_lines(result)]


def pack_lines(lines: Sequence[str], *, section_max: int = SECTION_TEXT_MAX,
               message_blocks_max: int = MESSAGE_MAX_BLOCKS,
               message_chars: int = MESSAGE_TEXT_BUDGET) -> list[list[str]]:
    """Lines -> sections (≤ section_max chars) -> messages (≤ blocks and chars), greedily, in order."""
    messages: list[list[str]] = []
    sections: list[str] = []
    used = 0  # characters in ``sections``
    current = ""
    for raw in lines:
        line = truncate(raw, section_max)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= section_max and used + len(candidate) <= message_chars:
            current = candidate
            continue
        if current:
            sections.append(current)
            used += len(current)
        if sections and (len(sections) >= message_blocks_max or used + len(line) > message_chars):
            messages.append(sections)
            sections, used = [], 0
        current = line
    if current:
        sections.append(current)
    if sections:
        messages.append(sections)
    return messages


def result_messages(results: Sequence[OrderResult]) -> list[SlackMessage]:
    """As few messages as Block Kit's limits allow, each a list of sections of result lines."""
    packed = pack_lines(ordered_lines(results))
    messages = []
    for index, sections in enumerate(packed, start=1):
        blocks = [SectionBlock(text=MarkdownTextObject(text=section)) for section in sections]
        part = f" (part {index} of {len(packed)})" if len(packed) > 1 else ""
        messages.append(SlackMessage(text=f"Sync results{part}", blocks=message_blocks(blocks)))
    return messages
