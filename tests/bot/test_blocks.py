"""Every surface built with slack-sdk's models: `.to_dict()` runs their checks; ours add the message limits."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from e2e_slack import status_words
from slack_sdk.models.blocks import SectionBlock

from bot.context import ModalContext, Origin
from bot.ui.home import home_view
from bot.ui.limits import MESSAGE_TEXT_BUDGET, BlockLimitError, block_text_length, message_blocks
from bot.ui.modal import error_text, prefill, sync_modal
from bot.ui.thread import line_text, ordered_lines, pack_lines, result_messages, summary_message
from sandbox.slack_sim import check_blocks
from sync_core.results import DocumentResult, OrderResult, ResultLine, SyncStatus
from sync_core.salla.models import DocumentKind
from sync_core.store.tables import SyncRecord


def results(count: int, reason_length: int = 40) -> list[OrderResult]:
    out = []
    for i in range(count):
        number = str(1000 + i)
        if i % 3 == 0:
            out.append(OrderResult(number, SyncStatus.FAILED, reason="x" * reason_length))
        elif i % 3 == 1:
            out.append(OrderResult(number, SyncStatus.NOT_FOUND, reason="no order with this number"))
        else:
            docs = (DocumentResult(DocumentKind.INVOICE, SyncStatus.SUCCESS, enerpize_number="INV-1",
                                   total=Decimal("310.50"), currency="SAR"),
                    DocumentResult(DocumentKind.RETURN, SyncStatus.SUCCESS, enerpize_number="R-1",
                                   total=Decimal("10.00"), currency="SAR"))
            out.append(OrderResult(number, SyncStatus.SUCCESS, documents=docs))
    return out


@pytest.mark.parametrize("count, reason_length", [(1, 10), (100, 40), (100, 2000), (400, 300)])
def test_result_messages_respect_every_block_kit_limit_and_lose_no_line(count, reason_length):
    batch = results(count, reason_length)
    messages = result_messages(batch)
    expected = ordered_lines(batch)
    got = [line for m in messages for b in m.blocks for line in b["text"]["text"].split("\n")]
    assert got == expected
    total = sum(len(line) + 1 for line in expected)
    assert len(messages) <= math.ceil(total / MESSAGE_TEXT_BUDGET) + 1  # as few as the limits allow
    for message in messages:
        assert len(message.blocks) <= 50 and block_text_length(message.blocks) <= MESSAGE_TEXT_BUDGET
        assert check_blocks(message.blocks, max_blocks=50) == []  # what Slack itself would check


def test_lines_put_failures_first_with_one_status_word_each():
    lines = ordered_lines(results(9))
    words = [status_words(line) for line in lines]
    assert all(len(w) == 1 for w in words)
    assert [w[0] for w in words] == ["Failed"] * 3 + ["Record not found"] * 3 + ["Success"] * 6


def test_a_line_cannot_mention_or_link_anything():
    line = line_text(ResultLine("1001", SyncStatus.FAILED, "<!channel> rejected <https://x|y> & more"))
    assert "<!channel>" not in line and "&lt;!channel&gt;" in line and "&amp;" in line


def test_pack_lines_splits_long_sections_and_messages():
    packed = pack_lines(["a" * 2000] * 20, message_chars=11_000)
    assert all(len(section) <= 3000 for message in packed for section in message)
    assert all(sum(map(len, message)) <= 11_000 for message in packed)
    assert sum(len(message) for message in packed) == 20


def test_our_own_checks_refuse_what_slack_would():
    with pytest.raises(BlockLimitError):
        message_blocks([SectionBlock(text="x") for _ in range(51)])
    with pytest.raises(BlockLimitError):
        message_blocks([SectionBlock(text="x" * 2900) for _ in range(5)])


def test_the_modal_and_its_metadata():
    context = ModalContext(origin=Origin.COMMAND, user_id="U1", channel_id="C1", response_url="https://hooks/x")
    view = sync_modal(context, prefill("1001 1002, 1003")).to_dict()
    assert json.loads(view["private_metadata"]) == {"origin": "command", "user_id": "U1", "channel_id": "C1",
                                                     "response_url": "https://hooks/x"}
    assert ModalContext.load(view["private_metadata"]) == context
    assert ModalContext.load("not json") is None and ModalContext.load(None) is None
    element = view["blocks"][0]["element"]
    assert element["initial_value"] == "1001\n1002\n1003" and element["max_length"] == 3000
    assert check_blocks(view["blocks"], max_blocks=100) == []
    assert len(prefill(" ".join(["1234567890"] * 400))) <= 3000


def test_error_text_names_lines_and_stays_under_2000_characters():
    errors = [f'Line {i} "{i}, {i}": one number per line, no commas' for i in range(1, 200)]
    text = error_text(errors)
    assert len(text) <= 2000 and text.startswith("Line 1 ") and text.endswith("more problems")
    assert error_text(errors[:2]) == "\n".join(errors[:2])


def test_the_summary_offers_a_rerun_only_when_something_failed():
    with_failures = summary_message(7, "U1", results(3))
    assert "Re-run failed (1)" in json.dumps(with_failures.blocks)
    clean = summary_message(7, "U1", [OrderResult("1", SyncStatus.SUCCESS)])
    buttons = [e["action_id"] for b in clean.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["download_csv"]  # the CSV, and no re-run


def test_the_home_view_stays_under_100_blocks_with_a_long_log():
    now = datetime.now(timezone.utc)
    records = [SyncRecord(id=i, run_id=1, number=str(1000 + i), status="Failed", reason="r" * 5000, created_at=now)
               for i in range(300)]
    view = home_view(records).to_dict()
    assert len(view["blocks"]) <= 100
    assert check_blocks(view["blocks"], max_blocks=100) == []
    statuses = Counter(f["text"] for b in view["blocks"] if b.get("fields") for f in b["fields"]
                       if f["text"].startswith("*Status*"))
    assert statuses == {"*Status*\nFailed": 46}  # 100 blocks: 7 fixed (filters, day pickers, pages), 2 an entry
