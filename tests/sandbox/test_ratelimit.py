"""The simulator's rate limits (Salla's documented window and leak, a leaky bucket of any size and
drain) and its 403 block, each on its own and over real HTTP."""

from __future__ import annotations

import math
import time

import httpx
import pytest

from sandbox import SallaSimulator, sample_store
from sandbox.ratelimit import FixedWindow, LeakyBucket

ORDER = "/orders/418149270"


class Clock:
    """Seconds that move only when the test says so: the models' timing checked to the millisecond."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def client(sim: SallaSimulator) -> httpx.Client:
    return httpx.Client(base_url=sim.api_url, headers={"Authorization": f"Bearer {sim.access_token}"})


def test_the_window_spends_its_limit_then_leaks_one_a_second():
    clock = Clock()
    window = FixedWindow(3, window_seconds=60, leak_per_second=1.0, clock=clock)
    taken = [window.take() for _ in range(4)]
    assert [a.allowed for a in taken] == [True, True, True, False]
    assert [a.remaining for a in taken] == [2, 1, 0, 0]
    assert all(a.limit == 3 for a in taken)
    assert taken[0].reset_in == 60  # the window's end, the same on every answer in it
    assert taken[3].retry_after == 1  # the next leaked slot, not the window's end
    clock.sleep(1.05)
    leaked = [window.take() for _ in range(2)]
    assert [a.allowed for a in leaked] == [True, False]  # one a second, no burst
    assert leaked[0].remaining == 0


def test_without_a_leak_the_window_refuses_until_its_end():
    clock = Clock()
    window = FixedWindow(1, window_seconds=1.5, leak_per_second=0, clock=clock)
    assert window.take().allowed
    refused = window.take()
    assert not refused.allowed and refused.retry_after == 2  # the window's end (1.5 s), rounded up
    clock.sleep(1.4)
    assert window.take().retry_after == 1  # 0.1 s left
    clock.sleep(0.15)
    fresh = window.take()
    assert fresh.allowed and fresh.remaining == 0 and fresh.reset_in == 1.5  # a new window began


def test_reset_is_an_epoch_or_a_delay():
    epoch = FixedWindow(2, window_seconds=30).take().headers()
    delay = FixedWindow(2, window_seconds=30, reset_as="delay").take().headers()
    assert abs(int(epoch["X-RateLimit-Reset"]) - math.ceil(time.time() + 30)) <= 1
    assert delay["X-RateLimit-Reset"] == "30"
    with pytest.raises(ValueError):
        FixedWindow(2, reset_as="minutes")


def test_a_bucket_of_any_size_drains_at_its_own_rate():
    clock = Clock()
    bucket = LeakyBucket(2, 20.0, clock=clock)
    assert [bucket.take().allowed for _ in range(3)] == [True, True, False]
    clock.sleep(0.06)  # 1.2 slots back at 20 a second
    again = bucket.take()
    assert again.allowed and again.remaining == 0
    assert again.reset_in == pytest.approx(0.09)  # full again in (2 - 0.2) / 20 s
    clock.sleep(0.1)  # two slots back: full, never more
    assert [bucket.take().allowed for _ in range(3)] == [True, True, False]


def test_the_simulator_picks_its_model_by_argument():
    assert isinstance(SallaSimulator(rate_limit_per_minute=120).rate_limit, LeakyBucket)
    window = SallaSimulator(rate_limit_per_minute=120, rate_model="window").rate_limit
    assert isinstance(window, FixedWindow) and window.limit == 120 and window.window_seconds == 60
    bucket = SallaSimulator(bucket=(5, 2.5)).rate_limit
    assert (bucket.capacity, bucket.refill_per_second) == (5, 2.5)
    model = FixedWindow(7)
    assert SallaSimulator(rate_model=model).rate_limit is model
    assert SallaSimulator().rate_limit is None
    with pytest.raises(ValueError):
        SallaSimulator(rate_model="window")  # a plan name needs the plan's size


def test_the_window_model_over_http():
    with SallaSimulator(store=sample_store(), rate_model=FixedWindow(2, window_seconds=60)) as sim, \
            client(sim) as c:
        answers = [c.get(ORDER) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[2].headers["Retry-After"] == "1"
    assert answers[2].json()["error"]["code"] == "too_many_requests"
    assert int(answers[0].headers["X-RateLimit-Reset"]) > time.time() + 58
    assert sim.throttled_count == 1


def test_many_errors_block_the_store_for_a_while():
    with SallaSimulator(store=sample_store(), block_after_errors=(3, 1.0)) as sim, client(sim) as c:
        missing = [c.get("/orders/1").status_code for _ in range(3)]
        blocked = c.get(ORDER)
        assert missing == [404, 404, 404]
        assert blocked.status_code == 403
        error = blocked.json()["error"]
        assert error["code"] == "forbidden" and "blocked" in error["message"]
        time.sleep(1.05)
        assert c.get(ORDER).status_code == 200
    assert sim.block.blocked_count == 1


def test_a_block_by_hand_refuses_every_call_until_it_ends():
    with SallaSimulator(store=sample_store(), rate_limit_per_minute=120) as sim, client(sim) as c:
        sim.block_for(0.5)
        assert [c.get(ORDER).status_code for _ in range(2)] == [403, 403]
        time.sleep(0.55)
        assert c.get(ORDER).status_code == 200
