"""The lower bound of a run's wall time, from the rate limit, the latency and the calls needed.

No implementation with the same calls can beat it, whatever its concurrency:

* **rate**: Salla's bucket holds ``plan`` requests when the run starts and refills ``plan/60`` a
  second, so with ``C`` Salla calls the last one cannot be admitted before
  ``wait = max(0, C - plan) / (plan / 60)`` seconds, nor before one ``latency`` (it has to get
  there). The order it belongs to still needs its Enerpize calls after it (``tail`` calls: look
  the key up, create, read the number back), each taking ``latency``:
  ``rate = max(wait, latency) + tail * latency``.
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

from dataclasses import asdict, dataclass


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


def lower_bound(*, salla_calls: int, plan_per_minute: int, latency: float, longest_chain: int,
                tail_calls: int, slack_messages: int = 0, slack_pace: float = 1.0) -> LowerBound:
    refill = plan_per_minute / 60.0
    waiting = max(0, salla_calls - plan_per_minute) / refill
    return LowerBound(rate=max(waiting, latency) + tail_calls * latency, latency=longest_chain * latency,
                      slack=max(0, slack_messages - 1) * slack_pace)
