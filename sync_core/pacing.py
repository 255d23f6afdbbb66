"""Rate pacing on what the server's headers say, assuming no refill rate.

Salla documents a per-minute window followed by a leak of 1 request a second until
``X-RateLimit-Reset``; other servers run a leaky bucket of any size and drain rate; Enerpize sends
no headers at all. One pacer serves all three because it assumes nothing it has not seen:

* **Spend what ``Remaining`` says.** The estimate is the last fresh ``Remaining`` less every request
  sent since or still in flight (the server may not have counted those yet).
* **When it is spent**, the next request goes at the earliest of: the learned leak allows it; one
  probe, alone, ``probe_interval`` after the last answer (this is how a leak is found at all when
  ``Remaining`` stays at 0, as in Salla's 1 request a second phase); ``X-RateLimit-Reset`` has passed
  (then one probe, alone, to read the new budget).
* **The leak is learned** from successive answers: over a stretch with no reset in it, what
  ``Remaining`` regained plus what was spent, less one for the two roundings, over the time it took.
  That is a lower bound of the true rate, so pacing by it does not overrun.
* **A 429** stops every request until its ``Retry-After`` has passed; a refused probe doubles the
  probe interval, a refusal while pacing halves the learned leak. Each 429 costs the store's other
  apps too (the budget is shared), so every path is built to see a handful per run at most.
* **No headers, no waiting**: after the first answer (the first request goes alone, to learn the
  budget before a burst), a server that sends no ``X-RateLimit-*`` is not paced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from sync_core.rate_headers import RateHeaders, read_rate_headers

# Learn a leak only over stretches at least this long: shorter ones are all rounding.
MIN_BASELINE = 1.0
# Reset is whole seconds, rounded either way by the server: an answer within this of the last
# answer's Reset may already be in the next window, and its gain must not be taken for a leak.
RESET_SLACK = 1.0
LONGEST_PROBE_INTERVAL = 60.0
DEFAULT_RETRY_AFTER = 1.0  # a 429 without a usable Retry-After


@dataclass
class _Stretch:
    """A run of answers with no reset between them: the baseline of the leak."""

    at: float
    remaining: int
    ticket: int  # of the answer it began with
    spent: int = 0  # admitted answers to requests sent after that one


@dataclass(frozen=True)
class _Decision:
    go: bool
    alone: bool = False
    delay: float | None = None  # when not going: wait this long, or for the next answer if None
    after_reset: bool = False


class RateLimitPacer:
    """Lets requests out as fast as the server's ``X-RateLimit-*`` headers allow, never faster.

    ``clock`` (monotonic seconds), ``wall`` (epoch seconds, to read an epoch Reset) and ``sleep`` are
    injectable so tests can run on a fake clock.
    """

    def __init__(self, *, probe_interval: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.probe_interval = probe_interval
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self.limit: int | None = None
        self.leak = 0.0  # learned slots a second; 0 until seen
        self._answered = False
        self._base = 0.0  # slots free at _base_at, every request then in flight counted as spent
        self._base_at = 0.0
        self._sent_since = 0
        self._reset_at: float | None = None
        self._blocked_until = 0.0
        self._halt: tuple[float, Callable[[], BaseException]] | None = None
        self._in_flight = 0
        self._probe: int | None = None  # the ticket of the probe in flight: the others wait for it
        self._tickets = 0
        self._fresh_ticket = 0  # the ticket of the answer the estimate was last taken from
        self._stretch: _Stretch | None = None
        self._last_reset_at: float | None = None  # the Reset the last fresh answer gave
        self._last_answer_at = 0.0
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()

    # -- the estimate ------------------------------------------------------------------------

    def estimate(self, now: float | None = None) -> float:
        """Requests that may go out now (infinite when the server sets no limit)."""
        if self.limit is None:
            return float("inf")
        now = self._clock() if now is None else now
        regained = self.leak * max(0.0, now - self._base_at)
        return min(float(self.limit), self._base + regained) - self._sent_since

    def _decide(self, now: float) -> _Decision:
        if now < self._blocked_until:
            return _Decision(False, delay=self._blocked_until - now)
        if self._probe is not None:
            return _Decision(False)
        if not self._answered:  # the first request goes alone, to learn the budget
            return _Decision(False) if self._in_flight else _Decision(True, alone=True)
        available = self.estimate(now)
        if available >= 1:
            return _Decision(True)
        ways: list[tuple[float, bool, bool]] = []  # (when, alone, after a reset)
        if self.leak > 0:
            ways.append((now + (1 - available) / self.leak, False, False))
        if self._in_flight == 0:  # a probe waits for every answer: they may show budget already
            ways.append((self._last_answer_at + self.probe_interval, True, False))
            if self._reset_at is not None:
                ways.append((self._reset_at, True, True))
        if not ways:
            return _Decision(False)
        when, alone, after_reset = min(ways)
        if when <= now:
            return _Decision(True, alone=alone, after_reset=after_reset)
        return _Decision(False, delay=when - now)

    # -- letting requests out ----------------------------------------------------------------

    async def acquire(self) -> int:
        """Wait until a request may go out, count it as sent, and return its ticket."""
        async with self._lock:  # one waiter at a time keeps requests in FIFO order
            while True:
                self._changed.clear()
                now = self._clock()
                self._raise_if_halted(now)
                decision = self._decide(now)
                if decision.go:
                    break
                await self._wait(decision.delay)
            self._tickets += 1
            self._in_flight += 1
            self._sent_since += 1
            if decision.alone:
                self._probe = self._tickets
            if decision.after_reset:
                self._reset_at = None  # that reset is used up; the probe's answer tells the next
            return self._tickets

    async def _wait(self, delay: float | None) -> None:
        """Sleep ``delay`` (forever if None), or less when an answer changes the picture."""
        changed = asyncio.ensure_future(self._changed.wait())
        waits = {changed}
        if delay is not None:
            waits.add(asyncio.ensure_future(self._sleep(delay)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    def halt(self, seconds: float, error: Callable[[], BaseException]) -> None:
        """Let nothing out for ``seconds``: every request waiting or asking raises ``error()``."""
        until = self._clock() + seconds
        if self._halt is None or until > self._halt[0]:
            self._halt = (until, error)
        self._changed.set()

    def _raise_if_halted(self, now: float) -> None:
        if self._halt is None:
            return
        until, error = self._halt
        if now >= until:
            self._halt = None
            return
        raise error()

    def release(self, ticket: int | None = None) -> None:
        """The request failed without an answer (it may or may not have been counted)."""
        self._in_flight = max(0, self._in_flight - 1)
        if self._probe is not None and self._probe == (ticket if ticket is not None else self._probe):
            self._probe = None
        self._changed.set()

    # -- learning from answers ---------------------------------------------------------------

    def observe(self, response: httpx.Response, ticket: int | None = None) -> None:
        """Learn from the answer to the request ``acquire`` gave ``ticket``."""
        ticket = self._tickets if ticket is None else ticket
        now = self._clock()
        self._in_flight = max(0, self._in_flight - 1)
        was_probe = self._probe == ticket
        if was_probe:
            self._probe = None
        self._answered = True
        self._last_answer_at = now
        headers = read_rate_headers(response.headers, wall=self._wall())
        fresh = ticket > self._fresh_ticket  # an older request's answer arriving late says less
        refused = response.status_code == 429
        if refused:
            self._refused(now, headers, was_probe)
        elif self._stretch is not None and ticket > self._stretch.ticket:
            self._stretch.spent += 1
        if headers.limit is not None and headers.limit >= 1:
            self.limit = headers.limit
        elif fresh and headers.remaining is not None:  # no Limit: the budget is at least what is left
            self.limit = max(self.limit or 0, headers.remaining + 1)
        if fresh and headers.remaining is not None:
            self._take(now, ticket, headers, refused)
        elif refused and self.limit is not None:
            self._base, self._base_at, self._sent_since = -float(self._in_flight), now, 0
        self._changed.set()

    def _refused(self, now: float, headers: RateHeaders, was_probe: bool) -> None:
        wait = headers.retry_after if headers.retry_after is not None else DEFAULT_RETRY_AFTER
        self._blocked_until = max(self._blocked_until, now + wait)
        if was_probe:  # probing this often costs 429s: probe less often
            self.probe_interval = min(LONGEST_PROBE_INTERVAL, max(2 * self.probe_interval, wait))
        else:  # the learned leak was too fast (or the store's other apps spend it)
            self.leak /= 2
        self._stretch = None

    def _take(self, now: float, ticket: int, headers: RateHeaders, refused: bool) -> None:
        """A fresh Remaining: it replaces the estimate, up or down, and extends the leak's baseline."""
        assert headers.remaining is not None and self.limit is not None
        self._learn(now, ticket, headers.remaining, refused)
        self._fresh_ticket = ticket
        self._base = float(headers.remaining - self._in_flight)
        self._base_at, self._sent_since = now, 0
        if headers.reset_in is not None:
            self._reset_at = now + headers.reset_in
        self._last_reset_at = None if headers.reset_in is None else now + headers.reset_in

    def _learn(self, now: float, ticket: int, remaining: int, refused: bool) -> None:
        stretch = self._stretch
        past_reset = self._last_reset_at is not None and now >= self._last_reset_at - RESET_SLACK
        full = self.limit is not None and remaining >= self.limit - 1  # a full budget hides the leak
        if refused or stretch is None or past_reset or full:
            self._stretch = _Stretch(now, remaining, ticket)
            return
        elapsed = now - stretch.at
        # Requests answered out of order may be left out of ``spent``, never counted twice; both
        # Remaining values are rounded down: less one slot, the gain is never more than the truth.
        regained = remaining - stretch.remaining + stretch.spent - 1
        if elapsed >= MIN_BASELINE and regained > 0:
            self.leak = regained / elapsed

    # -- the whole round trip ----------------------------------------------------------------

    async def send(self, request: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """Pace one request: wait for a slot, send it, learn from the answer."""
        ticket = await self.acquire()
        try:
            response = await request()
        except BaseException:
            self.release(ticket)
            raise
        self.observe(response, ticket)
        return response
