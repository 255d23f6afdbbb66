"""Salla's webhooks under a burst: ``DELIVERIES`` invoice.created deliveries (the documented body:
the invoice with its items and customer) spread over one second to the real bot (``salla-sync-bot
--http``, simulators in a child process, ``latency`` on every Salla and Enerpize call). Measured:
each delivery's acknowledgement (target p99 <= 100 ms), deliveries lost (stored events against
deliveries answered 200), Salla calls per synced invoice (target <= 1), and the time until every
order is synced and reported, next to the rate bound: the Salla calls made beyond the plan's
budget, at the plan's pace, plus the one call an invoice needs (target <= 1.25x).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from bench.stack import Stack
from sandbox import salla_webhooks
from sandbox.salla_records import line
from sandbox.salla_store import SallaStore

DELIVERIES = 200
SECRET = "bench-webhook-secret-0123"
STORE = "1305146709"
SALLA_CALLS_PER_ORDER = 1  # the order (the invoice came with the delivery)


@dataclass
class WebhookFigures:
    deliveries: int
    ack_p50_ms: float
    ack_p99_ms: float
    ack_max_ms: float
    lost: int
    synced_seconds: float | None  # first delivery -> every order synced and reported
    bound_seconds: float
    salla_calls: int
    plan_per_minute: int

    @property
    def salla_calls_per_invoice(self) -> float:
        return self.salla_calls / self.deliveries

    @property
    def ratio(self) -> float | None:
        return None if self.synced_seconds is None else self.synced_seconds / self.bound_seconds

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio, "salla_calls_per_invoice": self.salla_calls_per_invoice}


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


async def _burst(stack: Stack, bodies: list[bytes], timeout: float) -> tuple[list[float], float | None, int]:
    assert stack.bot is not None
    url = stack.bot.url + "/salla/webhooks"
    acks: list[float] = []
    statuses: list[int] = []
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()

        async def one(index: int, raw: bytes) -> None:
            await asyncio.sleep(index / len(bodies))  # spread over one second
            headers = salla_webhooks.headers(raw, secret=SECRET)
            sent = time.perf_counter()
            async with http.post(url, data=raw, headers=headers) as response:
                await response.read()
                statuses.append(response.status)
            acks.append(time.perf_counter() - sent)

        await asyncio.gather(*(one(i, raw) for i, raw in enumerate(bodies)))
        done = None
        while time.perf_counter() - started < timeout:
            rows = stack._query("SELECT count(*) FROM webhook_event e LEFT JOIN sync_run r ON r.id = e.run_id "
                                "WHERE e.run_id IS NULL OR r.reported_at IS NULL")
            if rows[0][0] == 0:
                done = time.perf_counter() - started
                break
            await asyncio.sleep(0.1)
    stored = stack._query("SELECT count(*) FROM webhook_event")[0][0]
    return acks, done, sum(1 for s in statuses if s == 200) - stored


def measure_webhooks(*, latency: float = 0.12, plan: int = 720, workdir: Path, timeout: float = 300.0) -> WebhookFigures:
    store = SallaStore()
    bodies = []
    for n in range(DELIVERIES):
        # A product with its SKU, as most are (a line without one costs one more Salla call, the
        # order's items, where its SKU is looked for: the same rule as a typed number's sync).
        order = store.add_order(70_000 + n, customer=None, lines=[line("x", "10", sku="BENCH-X")])
        invoice = store.add_invoice(order)
        bodies.append(salla_webhooks.raw(salla_webhooks.invoice_created(STORE, order, invoice)))
    env = {"salla_webhook_secret": SECRET, "salla_store_id": STORE}
    with Stack(store, plan=plan, latency=latency, workdir=workdir, name=f"webhooks-{plan}", env=env) as stack:
        acks, done, lost = asyncio.run(_burst(stack, bodies, timeout))
        salla_calls = len(stack.salla.calls())
    rate = max(0, salla_calls - plan) / (plan / 60)  # the bucket starts full, then refills at the plan's pace
    bound = rate + SALLA_CALLS_PER_ORDER * latency
    return WebhookFigures(deliveries=DELIVERIES, ack_p50_ms=_percentile(acks, 0.5) * 1000,
                          ack_p99_ms=_percentile(acks, 0.99) * 1000, ack_max_ms=max(acks) * 1000, lost=lost,
                          synced_seconds=done, bound_seconds=bound, salla_calls=salla_calls, plan_per_minute=plan)


if __name__ == "__main__":  # python -m bench.webhooks
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(measure_webhooks(workdir=Path(tmp)).as_dict())
