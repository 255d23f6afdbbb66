"""The lower bound of a run's wall time, from the rate limit, the latency and the calls needed.

No implementation with the same calls can beat it, whatever its concurrency:

* **rate**, on the leaky bucket: it holds ``plan`` requests when the run starts and refills
  ``plan/60`` a second, so with ``C`` Salla calls the last one cannot be admitted before
  ``wait = max(0, C - plan) / (plan / 60)`` seconds, nor before one ``latency`` (it has to get
  there). The order it belongs to still needs its Enerpize calls after it (``tail`` calls: look
  the key up, create, read the number back), each taking ``latency``:
  ``rate = max(wait, latency) + tail * latency``.
* **rate**, on Salla's documented window (``sandbox.ratelimit.FixedWindow``): the first window
  opens when the first call arrives (one ``latency`` in) and admits ``plan`` calls; past them, one
  leaks in a second at best (at +1 … +59 s: 59 a window), and the next window opens 60 s after the
  first. ``wait`` is when the ``C``-th call can be admitted counted that way (``window_wait``), and
  ``rate = latency + wait + tail * latency``.
* **latency**: the order with the longest chain of calls that depend on each other (search ->
  order -> invoices -> invoice -> lookup -> create -> read, per document) takes
  ``chain * latency`` even with nothing else running.
* **slack**: once the last order is done, its results are posted as ``messages`` replies at
  Slack's pace of about one message a second per channel (``chat.postMessage``'s own limit, the
  bot's ``Tuning.channel_pace``), so ``(messages - 1) * pace`` seconds after the first one. The
  summary and the parent's totals that close the thread are ``chat.update`` calls (Tier 3, 50+ a
  minute per workspace, no per-channel pace), so they cost nothing more here.

``seconds = max(rate, latency) + slack``.

Why not ``wait + (1 + tail) * latency``: a call costs its latency *and* a slot in the bucket, but
the two overlap. Salla counts a request when it arrives, the simulator when it answers (after its
latency); either way the last call's latency is spent while the bucket refills, not after it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

RATE_MODELS = ("bucket", "window")


@dataclass(frozen=True)
class LowerBound:
    rate: float
    latency: float
    slack: float

    @property
    def seconds(self) -> float:
        return max(self.rate, self.latency) + self.slack

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "seconds": self.seconds}


def window_wait(calls: int, limit: int, *, window: float = 60.0, leak: float = 1.0) -> float:
    """Seconds from the first admitted call to the earliest the ``calls``-th can be admitted, when
    each window admits ``limit`` at its start and then leaks one every ``1/leak`` s until it ends."""
    if calls <= 0:
        return 0.0
    leaked = max(0, math.ceil(window * leak) - 1) if leak > 0 else 0  # the slot at +window is the next window's
    windows, index = divmod(calls - 1, limit + leaked)
    return windows * window + (0.0 if index < limit else (index - limit + 1) / leak)


def lower_bound(*, salla_calls: int, plan_per_minute: int, latency: float, longest_chain: int,
                tail_calls: int, slack_messages: int = 0, slack_pace: float = 1.0,
                rate_model: str = "bucket") -> LowerBound:
    if rate_model == "window":
        rate = latency + window_wait(salla_calls, plan_per_minute) + tail_calls * latency
    elif rate_model == "bucket":
        refill = plan_per_minute / 60.0
        waiting = max(0, salla_calls - plan_per_minute) / refill
        rate = max(waiting, latency) + tail_calls * latency
    else:
        raise ValueError(f"rate_model must be one of {RATE_MODELS}")
    return LowerBound(rate=rate, latency=longest_chain * latency, slack=max(0, slack_messages - 1) * slack_pace)
