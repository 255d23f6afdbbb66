"""Block Kit as Slack checks it and as a person reads it.

``check_blocks`` and ``check_view`` answer what Slack would say about the blocks of a message or
of a modal / Home tab (the ``response_metadata.messages`` of an ``invalid_blocks`` or
``invalid_arguments`` answer; empty when Slack would take them): at most 50 blocks in a message
and 100 in a view, a section text of at most 3000 characters, a header of 150, a button label of
75, a modal title of 24, and so on. ``block_text_length`` is what ``msg_blocks_too_long`` counts
(at most ``MESSAGE_MAX_BLOCK_TEXT`` characters of text in a message's blocks). ``render`` gives
the lines of text Slack shows for a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
MESSAGE_MAX_BLOCK_TEXT = 12_000


def render(blocks: list[dict[str, Any]] | None, text: str | None = None) -> list[str]:
    """Lines of text as Slack would show them (blocks win over the fallback ``text``)."""
    if not blocks:
        return (text or "").splitlines()
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind in ("section", "header", "markdown"):
            body = block.get("text")
            value = body.get("text") if isinstance(body, dict) else body
            if value:
                lines.extend(str(value).splitlines())
            for item in block.get("fields") or []:
                lines.append(str(item.get("text", "")).replace("\n", " "))
        elif kind == "context":
            parts = [str(e.get("text", "")) for e in block.get("elements") or [] if "text" in e]
            if parts:
                lines.append(" ".join(parts))
        elif kind == "actions":
            for element in block.get("elements") or []:
                label = element.get("text")
                if isinstance(label, dict):
                    lines.append(f"[{label.get('text', '')}]")
    return lines


def block_text_length(blocks: Iterable[Any]) -> int:
    """Characters of text in ``blocks``: every ``"text"`` string at any depth (what ``msg_blocks_too_long`` counts)."""
    total = 0
    stack: list[Any] = list(blocks)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    total += len(value)
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return total


def _plain(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _check_text(obj: Any, limit: int, pointer: str, problems: list[str], minimum: int = 0) -> None:
    if obj is None:
        return
    length = len(_plain(obj))
    if length > limit:
        problems.append(f"[ERROR] must be less than {limit + 1} characters [json-pointer:{pointer}]")
    elif length < minimum:
        problems.append(f"[ERROR] must be more than {minimum - 1} characters [json-pointer:{pointer}]")


def _check_element(element: dict[str, Any], pointer: str, problems: list[str]) -> None:
    kind = element.get("type")
    if len(str(element.get("action_id", ""))) > 255:
        problems.append(f"[ERROR] must be less than 256 characters [json-pointer:{pointer}/action_id]")
    if kind == "button":
        _check_text(element.get("text"), 75, f"{pointer}/text/text", problems, 1)
        if len(str(element.get("value", ""))) > 2000:
            problems.append(f"[ERROR] must be less than 2001 characters [json-pointer:{pointer}/value]")
    if kind == "plain_text_input":
        max_length = element.get("max_length")
        if max_length is not None and not 1 <= int(max_length) <= 3000:
            problems.append(f"[ERROR] must be between 1 and 3000 [json-pointer:{pointer}/max_length]")
        _check_text(element.get("placeholder"), 150, f"{pointer}/placeholder/text", problems)
        initial = element.get("initial_value")
        if initial is not None and len(initial) > int(max_length or 3000):
            problems.append(f"[ERROR] initial_value is longer than max_length [json-pointer:{pointer}/initial_value]")
    if kind in ("static_select",):
        options = element.get("options") or []
        if len(options) > 100:
            problems.append(f"[ERROR] no more than 100 items allowed [json-pointer:{pointer}/options]")
    confirm = element.get("confirm")
    if confirm:
        _check_text(confirm.get("title"), 100, f"{pointer}/confirm/title/text", problems, 1)
        _check_text(confirm.get("text"), 300, f"{pointer}/confirm/text/text", problems, 1)
        _check_text(confirm.get("confirm"), 30, f"{pointer}/confirm/confirm/text", problems, 1)
        _check_text(confirm.get("deny"), 30, f"{pointer}/confirm/deny/text", problems, 1)


def check_blocks(blocks: Any, *, max_blocks: int) -> list[str]:
    """What Slack would say about these blocks (empty when it would take them)."""
    if not isinstance(blocks, list):
        return ["[ERROR] must be an array [json-pointer:/blocks]"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict) or "type" not in block:
            problems.append(f"[ERROR] missing required field: type [json-pointer:{pointer}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                problems.append(f"[ERROR] duplicate block_id [json-pointer:{pointer}/block_id]")
            block_ids.add(block_id)
            if len(block_id) > 255:
                problems.append(f"[ERROR] must be less than 256 characters [json-pointer:{pointer}/block_id]")
        kind = block["type"]
        if kind == "section":
            if block.get("text") is None and not block.get("fields"):
                problems.append(f"[ERROR] must provide either text or fields [json-pointer:{pointer}]")
            _check_text(block.get("text"), 3000, f"{pointer}/text/text", problems, 1 if block.get("text") else 0)
            fields = block.get("fields") or []
            if len(fields) > 10:
                problems.append(f"[ERROR] no more than 10 items allowed [json-pointer:{pointer}/fields]")
            for j, item in enumerate(fields):
                _check_text(item, 2000, f"{pointer}/fields/{j}/text", problems, 1)
            if block.get("accessory"):
                _check_element(block["accessory"], f"{pointer}/accessory", problems)
        elif kind == "header":
            _check_text(block.get("text"), 150, f"{pointer}/text/text", problems, 1)
        elif kind == "markdown":
            _check_text({"text": block.get("text", "")}, 12000, f"{pointer}/text", problems, 1)
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                problems.append(f"[ERROR] must have between 1 and 10 items [json-pointer:{pointer}/elements]")
            for j, element in enumerate(elements):
                if "text" in element:
                    _check_text(element, 3000, f"{pointer}/elements/{j}/text", problems, 1)
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                problems.append(f"[ERROR] must have between 1 and 25 items [json-pointer:{pointer}/elements]")
            for j, element in enumerate(elements):
                _check_element(element, f"{pointer}/elements/{j}", problems)
        elif kind == "input":
            _check_text(block.get("label"), 2000, f"{pointer}/label/text", problems, 1)
            _check_text(block.get("hint"), 2000, f"{pointer}/hint/text", problems)
            if not isinstance(block.get("element"), dict):
                problems.append(f"[ERROR] missing required field: element [json-pointer:{pointer}]")
            else:
                _check_element(block["element"], f"{pointer}/element", problems)
    return problems


def check_view(view: dict[str, Any]) -> list[str]:
    """What Slack would say about a modal or Home tab (``view["type"]`` already checked; empty when it would take it)."""
    problems = check_blocks(view.get("blocks"), max_blocks=VIEW_MAX_BLOCKS)
    if view["type"] == "modal":
        _check_text(view.get("title"), 24, "/view/title/text", problems, 1)
        _check_text(view.get("submit"), 24, "/view/submit/text", problems)
        _check_text(view.get("close"), 24, "/view/close/text", problems)
        if any(b.get("type") == "input" for b in view.get("blocks") or []) and not view.get("submit"):
            problems.append("[ERROR] submit is required when a view has input blocks [json-pointer:/view/submit]")
    if len(view.get("private_metadata") or "") > 3000:
        problems.append("[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if len(view.get("callback_id") or "") > 255:
        problems.append("[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]")
    return problems
