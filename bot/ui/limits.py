"""Block Kit limits slack-sdk's models do not check: a message's block count and total text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from slack_sdk.models.blocks import Block

MESSAGE_MAX_BLOCKS = 50
SECTION_TEXT_MAX = 3000
# Slack refuses a message whose blocks hold more than ~12k characters (msg_blocks_too_long,
# undocumented); stay clearly under it.
MESSAGE_TEXT_BUDGET = 11_000
HOME_MAX_BLOCKS = 100


class BlockLimitError(ValueError):
    """A message we built would be refused by Slack."""


def block_text_length(blocks: Iterable[dict[str, Any]]) -> int:
    """Characters of text in the blocks (every ``text`` string, at any depth)."""
    total = 0

    def walk(node: Any) -> None:
        nonlocal total
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    total += len(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(list(blocks))
    return total


def message_blocks(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """The blocks as JSON, after slack-sdk's own checks and the message-level ones."""
    dicts = [block.to_dict() for block in blocks]  # raises SlackObjectFormationError past a limit
    if len(dicts) > MESSAGE_MAX_BLOCKS:
        raise BlockLimitError(f"{len(dicts)} blocks in one message; {MESSAGE_MAX_BLOCKS} is the most")
    length = block_text_length(dicts)
    if length > MESSAGE_TEXT_BUDGET:
        raise BlockLimitError(f"{length} characters of block text in one message; {MESSAGE_TEXT_BUDGET} is our most")
    return dicts


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Slack mrkdwn control characters, so a reason can never mention or link anything."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
