"""The rate pacer: what it reads from the headers (on a fake clock), and how it fares against the
Salla simulator's two rate models over real HTTP (calls and 429s counted, not timed)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
import pytest

from sandbox import SallaSimulator, sample_store
from sandbox.ratelimit import FixedWindow
from sync_core.http import RateLimitPacer
from sync_core.rate_headers import read_rate_headers, reset_delay

ORDER = "/orders/418149270"
WALL = 1_700_000_000.0


class FakeTime:
    """A clock that only moves when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL + self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def fake_pacer(t: FakeTime, **kwargs) -> RateLimitPacer:
    return RateLimitPacer(clock=t.clock, wall=t.wall, sleep=t.sleep, **kwargs)


def answer(status: int = 200, **headers: str) -> httpx.Response:
    names = {"limit": "X-RateLimit-Limit", "remaining": "X-RateLimit-Remaining",
             "reset": "X-RateLimit-Reset", "retry_after": "Retry-After"}
    return httpx.Response(status, headers={names[k]: v for k, v in headers.items()})


# -- the headers, on a fake clock --------------------------------------------------------------

def test_reset_is_read_as_an_epoch_or_as_a_delay():
    assert reset_delay(str(int(WALL) + 30), wall=WALL) == 30
    assert reset_delay("30", wall=WALL) == 30  # under 10^9: seconds from now
    assert reset_delay(str(int(WALL) - 5), wall=WALL) == 0  # already passed
    assert reset_delay(str(int(WALL * 1000)), wall=WALL) is None  # milliseconds: not an order to wait years
    assert reset_delay("soon", wall=WALL) is None and reset_delay(None, wall=WALL) is None


def test_garbage_headers_are_ignored_not_obeyed():
    read = read_rate_headers({"X-RateLimit-Limit": "many", "X-RateLimit-Remaining": "-3",
                              "X-RateLimit-Reset": "nan", "Retry-After": "whenever"}, wall=WALL)
    assert (read.limit, read.remaining, read.reset_in, read.retry_after) == (None, None, None, None)


async def test_garbage_headers_do_not_stall_the_pacer():
    t = FakeTime()
    pacer = fake_pacer(t)
    pacer.observe(answer(limit="x", remaining="", reset="later"), await pacer.acquire())
    pacer.observe(answer(429, retry_after="whenever"), await pacer.acquire())
    await pacer.acquire()  # a 429 without a usable Retry-After waits a second, not forever
    assert t.now == pytest.approx(1001.0)


@pytest.mark.parametrize("style", ["epoch", "delay"])
async def test_a_spent_budget_waits_for_reset_then_probes_alone(style):
    t = FakeTime()
    pacer = fake_pacer(t, probe_interval=100)  # no probe before the reset here

    def reset() -> str:
        return str(int(t.wall() + 5)) if style == "epoch" else "5"

    pacer.observe(answer(limit="2", remaining="1", reset=reset()), await pacer.acquire())
    pacer.observe(answer(limit="2", remaining="0", reset=reset()), await pacer.acquire())
    probe = await pacer.acquire()
    assert t.now == pytest.approx(1005.0)  # not a moment earlier, not a minute later
    after_probe = asyncio.ensure_future(pacer.acquire())
    await asyncio.sleep(0.01)
    assert not after_probe.done()  # the probe goes alone: its answer says what the new budget is
    pacer.observe(answer(limit="2", remaining="1", reset=reset()), probe)
    await asyncio.wait_for(after_probe, 1)
    assert t.now == pytest.approx(1005.0)


async def test_remaining_counts_what_is_still_in_flight():
    t = FakeTime()
    pacer = fake_pacer(t, probe_interval=100)
    pacer.observe(answer(limit="10", remaining="4", reset="60"), await pacer.acquire())
    for _ in range(4):
        await pacer.acquire()
    assert pacer.estimate() == 0
    blocked = asyncio.ensure_future(pacer.acquire())
    await asyncio.sleep(0.01)
    assert not blocked.done()  # four in flight, four left: the next one waits
    blocked.cancel()


async def test_the_leak_is_learned_from_successive_answers_and_never_overestimated():
    t = FakeTime()
    pacer = fake_pacer(t, probe_interval=100)
    # A bucket draining 3 a second, seen every half second while one request a step goes out.
    level = 5.0
    for _ in range(8):
        ticket = await pacer.acquire()
        level -= 1
        pacer.observe(answer(limit="10", remaining=str(int(level)), reset="60"), ticket)
        t.now += 0.5
        level += 1.5
    assert 2.0 < pacer.leak <= 3.0


async def test_a_refused_probe_probes_less_often():
    t = FakeTime()
    pacer = fake_pacer(t, probe_interval=1.0)
    pacer.observe(answer(limit="1", remaining="0", reset="60"), await pacer.acquire())
    probe = await pacer.acquire()
    assert t.now == pytest.approx(1001.0)  # spent and no leak known: one probe a second later
    pacer.observe(answer(429, limit="1", remaining="0", reset="59", retry_after="3"), probe)
    assert pacer.probe_interval == 3.0  # each probe that fails is a 429 held against the store
    await pacer.acquire()
    assert t.now == pytest.approx(1004.0)


# -- against the simulator, over HTTP ----------------------------------------------------------

@dataclass
class Traffic:
    sends: list[float] = field(default_factory=list)
    refusals: list[tuple[float, float]] = field(default_factory=list)  # (answered at, Retry-After)
    peak_in_flight: int = 0


async def paced_gets(sim: SallaSimulator, pacer: RateLimitPacer, count: int, *, concurrency: int = 16,
                     timeout: float = 60) -> Traffic:
    """``count`` reads through ``pacer``, each tried again after a 429 as the clients do."""
    traffic, in_flight = Traffic(), 0
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=sim.api_url,
                                 headers={"Authorization": f"Bearer {sim.access_token}"}) as http:
        async def request() -> httpx.Response:
            nonlocal in_flight
            traffic.sends.append(time.monotonic())
            in_flight += 1
            traffic.peak_in_flight = max(traffic.peak_in_flight, in_flight)
            try:
                return await http.get(ORDER)
            finally:
                in_flight -= 1

        async def read() -> None:
            async with gate:
                while (response := await pacer.send(request)).status_code == 429:
                    traffic.refusals.append((time.monotonic(), float(response.headers["Retry-After"])))
                assert response.status_code == 200

        await asyncio.wait_for(asyncio.gather(*(read() for _ in range(count))), timeout)
    return traffic


def assert_nothing_sent_inside_a_retry_after(traffic: Traffic) -> None:
    for answered, wait in traffic.refusals:
        inside = [s for s in traffic.sends if answered < s < answered + wait - 0.01]
        assert not inside, f"{len(inside)} request(s) sent inside a {wait:.0f} s Retry-After"


async def test_a_small_bucket_with_its_own_drain_is_paced_at_that_drain():
    # 12 slots draining 5 a second, not 12/60: the old pacer took minutes here (5 s a request).
    with SallaSimulator(store=sample_store(), bucket=(12, 5.0)) as sim:
        pacer = RateLimitPacer()
        traffic = await paced_gets(sim, pacer, 50, timeout=45)
    assert sim.throttled_count <= 1
    assert 2.5 < pacer.leak <= 5.0  # learned from the answers, and never above the truth
    assert_nothing_sent_inside_a_retry_after(traffic)


async def test_salla_documented_window_and_its_one_a_second_leak_are_never_overrun():
    # 240 a minute, then 1 a second: the old pacer refilled at 240/60 = 4 a second and overran it.
    with SallaSimulator(store=sample_store(), rate_model=FixedWindow(240, window_seconds=60)) as sim:
        traffic = await paced_gets(sim, RateLimitPacer(), 248, timeout=45)
    assert sim.throttled_count <= 1
    assert_nothing_sent_inside_a_retry_after(traffic)


@pytest.mark.parametrize("style", ["epoch", "delay"])
async def test_the_next_window_is_waited_for_whichever_way_reset_is_written(style):
    # No leak at all: only the Reset tells when requests may go again (the old pacer waited 12 s
    # a request, from a refill of 5/60 a second that this server never does).
    model = FixedWindow(5, window_seconds=2, leak_per_second=0, reset_as=style)
    with SallaSimulator(store=sample_store(), rate_model=model) as sim:
        traffic = await paced_gets(sim, RateLimitPacer(), 15, timeout=30)
    assert sim.throttled_count <= 3  # probes looking for a leak that is not there
    assert_nothing_sent_inside_a_retry_after(traffic)


async def test_no_request_goes_inside_a_pending_retry_after():
    with SallaSimulator(store=sample_store(), bucket=(100, 100.0)) as sim:
        sim.fail_next(status=429, count=1, retry_after=2)
        traffic = await paced_gets(sim, RateLimitPacer(), 20, concurrency=8)
    assert len(traffic.refusals) == 1 and traffic.refusals[0][1] == 2
    assert_nothing_sent_inside_a_retry_after(traffic)
    assert len(traffic.sends) == 21


async def test_a_server_without_rate_headers_is_not_paced():
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(seconds)

    with SallaSimulator(store=sample_store(), latency=0.05) as sim:  # no rate limit: no headers
        traffic = await paced_gets(sim, RateLimitPacer(sleep=sleep), 40, concurrency=20)
    assert slept == []
    assert traffic.peak_in_flight == 20  # after the first answer, everything at once
