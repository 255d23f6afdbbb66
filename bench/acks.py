"""Slack's 3-second window: how fast the bot acknowledges ``/salla-sync`` and the modal's submission
when ``users`` people do it at the same moment, ``rounds`` times in a row.

Each round: every user types ``/salla-sync`` at once (one ack each), the bot opens their modals, then
they all press "Sync" at once (one ack each; each submission stores a run of ``numbers_each`` orders
and starts it, so the later acks of a round share the bot with the first runs). The next round starts
once those runs have synced (their last Slack messages may still be going out). At the end the bot
finishes every run, so its peak memory includes them all.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.stack import Ack, Stack
from bench.workload import mixed_orders


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(seconds: list[float]) -> dict[str, float]:
    return {"n": len(seconds), "p50_ms": 1000 * percentile(seconds, 50), "p99_ms": 1000 * percentile(seconds, 99),
            "max_ms": 1000 * max(seconds) if seconds else float("nan")}


@dataclass
class AckResult:
    users: int
    rounds: int
    plan: int
    numbers_each: int
    command: list[float] = field(default_factory=list)
    submission: list[float] = field(default_factory=list)
    modal_open: list[float] = field(default_factory=list)  # command sent -> views.open seen by Slack
    refused: list[str] = field(default_factory=list)  # any answer that is not an empty 200
    runs: int = 0
    drained_seconds: float | None = None  # after the last round synced, until every thread was complete
    peak_rss_mb: float = 0.0

    def as_dict(self) -> dict:
        return {"users": self.users, "rounds": self.rounds, "plan": self.plan, "numbers_each": self.numbers_each,
                "command": latency_summary(self.command), "submission": latency_summary(self.submission),
                "modal_open": latency_summary(self.modal_open), "refused": self.refused, "runs": self.runs,
                "drained_seconds": self.drained_seconds, "peak_rss_mb": self.peak_rss_mb}


def _check(ack: Ack, what: str, result: AckResult) -> None:
    if ack.status != 200 or ack.body.strip():
        result.refused.append(f"{what}: HTTP {ack.status} {ack.body[:200]}")


async def measure_acks(*, users: int, rounds: int, plan: int, latency: float, concurrency: int | None,
                       workdir: Path, numbers_each: int = 1, drain_timeout: float = 180.0) -> AckResult:
    workload = mixed_orders()
    result = AckResult(users=users, rounds=rounds, plan=plan, numbers_each=numbers_each)
    with Stack(workload.store, plan=plan, latency=latency, workdir=workdir, concurrency=concurrency,
               name="acks") as stack:
        connector = aiohttp.TCPConnector(limit=0)  # Slack does not queue its requests behind each other
        async with aiohttp.ClientSession(connector=connector) as http:
            serial = 0
            for round_no in range(rounds):
                who = [(f"U0USER{u:03d}", f"C0R{round_no:02d}U{u:03d}") for u in range(users)]

                async def command(user: str, channel: str):
                    ack, trigger = await stack.command(http, user=user, channel=channel)
                    try:
                        call = await stack.views_open(trigger)
                    except TimeoutError:
                        return ack, None, "no views.open within 10 s"
                    if not call.ok:
                        return ack, None, f"views.open refused: {call.error}"
                    result.modal_open.append(call.at - ack.sent)
                    return ack, call.args["view"], None

                opened = await asyncio.gather(*(command(u, c) for u, c in who))
                for ack, _, problem in opened:
                    result.command.append(ack.seconds)
                    _check(ack, "command", result)
                    if problem:
                        result.refused.append(f"modal: {problem}")

                submitting = []
                for (user, _), (_, view, _) in zip(who, opened):
                    text = "\n".join(workload.numbers[(serial + i) % len(workload.numbers)] for i in range(numbers_each))
                    serial += numbers_each
                    if view is not None:
                        submitting.append(stack.submit(http, view, text, user=user))
                acks = await asyncio.gather(*submitting)
                for ack in acks:
                    result.submission.append(ack.seconds)
                    _check(ack, "submission", result)
                result.runs += len(acks)
                if await stack.until_zero(stack.unfinished, drain_timeout) is None:
                    result.refused.append(f"round {round_no + 1}: runs still syncing after {drain_timeout:.0f} s")

        result.drained_seconds = await stack.until_zero(stack.unreported, drain_timeout)
        result.peak_rss_mb = stack.peak_rss_mb()
    return result
