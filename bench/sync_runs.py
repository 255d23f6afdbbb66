"""One run of the mixed orders, typed into the modal by one person, timed until its thread is complete.

The clock starts when the view_submission is sent and stops at the final thread message: the last
Slack call in the run's channel once the bot has marked the thread reported (results, summary and
the parent's totals all posted). Each order's finish time is its first row in the Invoice Sync Log.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.bounds import LowerBound, lower_bound
from bench.stack import Stack
from bench.workload import Workload, mixed_orders
from bot.tuning import Tuning
from sandbox.salla_sim import API_PREFIX

USER, CHANNEL = "U0BENCH", "C0BENCH"
# Enerpize calls an order still needs after its last Salla call, per document: look the po_number up
# (the exactly-once rule), create, read the number back.
ENERPIZE_CALLS_PER_DOCUMENT = 3
STATUS_WORDS = ("Success", "Failed", "Record not found", "Cancelled")


@dataclass
class RunResult:
    plan: int
    rate_model: str  # "bucket" (a leaky bucket of the plan) or "window" (Salla's documented window and leak)
    concurrency: int
    latency: float
    orders: int
    documents: int
    wall_seconds: float  # submission sent -> final thread message
    last_order_seconds: float  # submission sent -> last order's result stored
    bound: LowerBound
    longest_chain: int
    salla_calls: int
    salla_throttled: int
    enerpize_calls: int
    slack_calls: int  # every Slack Web API call the run made, views.open included, 429s included
    slack_by_method: dict[str, int]
    slack_throttled: int
    result_messages: int
    result_lines: int
    results_missing: list[str]  # numbers with no line in the thread
    statuses: dict[str, int]
    finish_seconds: list[float] = field(default_factory=list)  # each order, sorted
    peak_rss_mb: float = 0.0
    submission_ack_ms: float = 0.0

    @property
    def ratio(self) -> float:
        return self.wall_seconds / self.bound.seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan_per_minute": self.plan, "rate_model": self.rate_model, "concurrency": self.concurrency, "latency_seconds": self.latency,
            "orders": self.orders, "documents": self.documents, "wall_seconds": self.wall_seconds,
            "last_order_seconds": self.last_order_seconds, "bound": self.bound.as_dict(), "ratio": self.ratio,
            "longest_chain_calls": self.longest_chain, "salla_calls": self.salla_calls,
            "salla_throttled": self.salla_throttled, "enerpize_calls": self.enerpize_calls,
            "slack_calls": self.slack_calls, "slack_calls_by_method": self.slack_by_method,
            "slack_throttled": self.slack_throttled, "result_messages": self.result_messages,
            "result_lines": self.result_lines, "results_missing": self.results_missing, "statuses": self.statuses,
            "finish_seconds": self.finish_seconds, "peak_rss_mb": self.peak_rss_mb,
            "submission_ack_ms": self.submission_ack_ms,
        }


def salla_calls_by_order(stack: Stack, workload: Workload) -> dict[str, int]:
    """Distinct Salla calls made for each order (a retried call counts once), from the simulator's log."""
    store = workload.store
    by_reference = {str(n): str(n) for n in workload.numbers}
    seen: dict[str, set] = {n: set() for n in workload.numbers}
    for call in stack.salla.calls():  # a copy, from the simulators' process
        path = call.path.removeprefix(API_PREFIX)
        number = None
        if path == "/orders" and "reference_id" in call.query:
            number = by_reference.get(call.query["reference_id"])
        elif path in ("/orders/invoices", "/orders/items") and "order_id" in call.query:
            order = store.order_by_id(int(call.query["order_id"]))
            number = str(order.reference_id) if order else None
        elif path.startswith("/orders/invoices/"):
            invoice = store.invoice_by_id(int(path.rsplit("/", 1)[1]))
            order = store.order_by_id(invoice.order_id) if invoice else None
            number = str(order.reference_id) if order else None
        elif path.startswith("/orders/") and path[len("/orders/"):].isdigit():
            order = store.order_by_id(int(path[len("/orders/"):]))
            number = str(order.reference_id) if order else None
        if number in seen:
            seen[number].add((path, tuple(sorted(call.query.items()))))
    return {number: len(calls) for number, calls in seen.items()}


def longest_chain(stack: Stack, workload: Workload) -> int:
    """The most calls one order needs one after the other: its Salla calls, then per document the
    Enerpize lookup, create and read (warm caches: finding or creating clients and products is left
    out, which only makes the bound lower)."""
    salla = salla_calls_by_order(stack, workload)
    documents = {str(n): len(workload.store.order_by_reference(int(n)).invoices) for n in workload.numbers}
    return max(salla[n] + ENERPIZE_CALLS_PER_DOCUMENT * documents[n] for n in workload.numbers)


RESULT_LINE = re.compile(r"`([^`]+)`\s+\*(" + "|".join(STATUS_WORDS) + r")\*")


def result_lines(lines: list[str]) -> list[tuple[str, str]]:
    """(number, status word) of every result line among the thread's lines."""
    return [(m.group(1), m.group(2)) for m in map(RESULT_LINE.search, lines) if m]


async def run_orders(*, plan: int, latency: float, concurrency: int, orders: int, workdir: Path,
                     timeout: float, name: str, explicit_concurrency: bool, rate_model: str = "bucket") -> RunResult:
    """``orders`` mixed orders in one submission, on a fresh bot, database and simulators."""
    workload = mixed_orders(orders)
    documents = workload.invoices
    with Stack(workload.store, plan=plan, latency=latency, workdir=workdir,
               concurrency=concurrency if explicit_concurrency else None, name=name,
               rate_model=rate_model) as stack:
        async with aiohttp.ClientSession() as http:
            ack, trigger = await stack.command(http, user=USER, channel=CHANNEL)
            if ack.status != 200:
                raise RuntimeError(f"/salla-sync answered HTTP {ack.status}: {ack.body[:300]}")
            view = await stack.opened_view(trigger)
            began = ack.sent
            start_wall, start = time.time(), time.monotonic()
            submitted = await stack.submit(http, view, "\n".join(workload.numbers), user=USER)
            if submitted.status != 200 or submitted.body.strip():
                raise RuntimeError(f"the submission was refused: HTTP {submitted.status} {submitted.body[:300]}")
        run_id = stack.run_of(USER)  # stored before the ack
        if run_id is None:
            raise RuntimeError("the submission was acknowledged but no run was stored")
        if not await stack.wait_reported(run_id, timeout):
            raise RuntimeError(f"run {run_id} on the {plan}/min plan ({rate_model}) did not finish within {timeout:.0f} s:\n"
                               f"{stack.log_tail()}")
        where = stack.run_thread(run_id)
        assert where is not None, "the run has no thread"
        channel, parent_ts = where
        # auth.test is the bot's once per process (Bolt asks who it is on its first request): not the run's.
        calls = [c for c in stack.slack.calls() if c.at >= began and c.method != "auth.test"]
        in_thread = [c for c in calls if c.ok and c.args.get("channel") == channel]
        wall = max(c.at for c in in_thread) - start
        finished = sorted(at - start_wall for at in stack.finish_times(run_id).values())
        replies = [message.lines() for message in stack.slack.replies(channel, parent_ts)]
        result_messages = sum(1 for lines in replies if result_lines(lines))  # the progress/summary has none
        found = result_lines([line for lines in replies for line in lines])
        listed = {number for number, _ in found}
        missing = [n for n in workload.numbers if n not in listed]
        statuses = Counter(status for _, status in found)
        salla_throttled = stack.salla.throttled_count()
        salla_calls = len(stack.salla.calls()) - salla_throttled
        chain = longest_chain(stack, workload)
        bound = lower_bound(salla_calls=salla_calls, plan_per_minute=plan, latency=latency, longest_chain=chain,
                            tail_calls=ENERPIZE_CALLS_PER_DOCUMENT, slack_messages=result_messages,
                            slack_pace=Tuning().channel_pace, rate_model=rate_model)
        return RunResult(
            plan=plan, rate_model=rate_model, concurrency=concurrency, latency=latency, orders=len(workload.numbers),
            documents=documents,
            wall_seconds=wall, last_order_seconds=finished[-1] if finished else float("nan"), bound=bound,
            longest_chain=chain, salla_calls=salla_calls, salla_throttled=salla_throttled,
            enerpize_calls=stack.enerpize.call_count(), slack_calls=len(calls),
            slack_by_method=dict(Counter(c.method for c in calls)), slack_throttled=sum(c.throttled for c in calls),
            result_messages=result_messages, result_lines=len(found), results_missing=missing,
            statuses=dict(statuses), finish_seconds=finished, peak_rss_mb=stack.peak_rss_mb(),
            submission_ack_ms=1000 * submitted.seconds,
        )
