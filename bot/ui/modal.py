"""The "Salla Sync" modal: one multiline input for up to 100 order / reference numbers."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ContextBlock, InputBlock, MarkdownTextObject, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from bot.context import ModalContext, Origin
from bot.ids import ActionId, BlockId, CallbackId
from sync_core.input_rules import MAX_NUMBERS

TITLE = "Salla Sync"
LABEL = "Order / Reference Number"
HINT = f"One number a line, up to {MAX_NUMBERS}. No commas or spaces."
INPUT_MAX_LENGTH = 3000
ERROR_TEXT_MAX = 2000  # Slack shows the errors under the input; keep them readable


def prefill(text: str | None) -> str | None:
    """What follows ``/salla-sync`` (numbers separated by spaces, commas or lines), one a line."""
    if not text:
        return None
    tokens = [t for t in text.replace(",", " ").replace("،", " ").split() if t]
    lines: list[str] = []
    size = 0
    for token in tokens:
        size += len(token) + (1 if lines else 0)
        if size > INPUT_MAX_LENGTH:
            break
        lines.append(token)
    return "\n".join(lines) or None


def sync_modal(context: ModalContext, initial: str | None = None, *, left_out: int = 0) -> View:
    """The form; ``left_out``: numbers of a message beyond the 100 that fit (named in the hint)."""
    if context.origin is Origin.MESSAGE:
        where = "The results will be posted in the thread of that message."
    elif context.origin is Origin.HOME or not context.channel_id:
        where = "The results will be posted in your direct messages with the bot."
    else:
        where = f"The results will be posted in a thread in <#{context.channel_id}>."
    hint = HINT if not left_out else (f"The message has {left_out} more number{'' if left_out == 1 else 's'} "
                                      f"than the {MAX_NUMBERS} that fit: sync them in a second form.")
    return View(
        type="modal",
        callback_id=CallbackId.SYNC_MODAL.value,
        title=PlainTextObject(text=TITLE),
        submit=PlainTextObject(text="Sync"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=context.dump(),
        blocks=[
            InputBlock(
                block_id=BlockId.NUMBERS.value,
                label=PlainTextObject(text=LABEL),
                hint=PlainTextObject(text=hint),
                optional=False,
                element=PlainTextInputElement(
                    action_id=ActionId.NUMBERS_INPUT.value,
                    multiline=True,
                    max_length=INPUT_MAX_LENGTH,
                    initial_value=initial,
                    placeholder=PlainTextObject(text="1001"),
                ),
            ),
            ContextBlock(elements=[MarkdownTextObject(text=where)]),
        ],
    )


def submitted_text(view: dict[str, Any]) -> str | None:
    """The input's value from a view_submission's ``view.state``."""
    values = (view.get("state") or {}).get("values") or {}
    return ((values.get(BlockId.NUMBERS.value) or {}).get(ActionId.NUMBERS_INPUT.value) or {}).get("value")


def error_text(errors: list[str]) -> str:
    """The rule errors, one a line, cut to what Slack shows under an input."""
    lines: list[str] = []
    size = 0
    for index, error in enumerate(errors):
        after = len(errors) - index - 1
        reserve = len(_more(after)) + 1 if after else 0
        if size + len(error) + 1 + reserve > ERROR_TEXT_MAX:
            lines.append(_more(len(errors) - index))
            break
        lines.append(error)
        size += len(error) + 1
    return "\n".join(lines)


def _more(count: int) -> str:
    return f"…and {count} more problem{'s' if count != 1 else ''}"
