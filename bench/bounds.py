"""The lower bound of a run's wall time, from the rate limit, the latency and the calls needed.

No implementation can beat it, whatever its concurrency:

* **rate**: Salla admits ``plan`` requests at once and then ``plan/60`` a second. With ``C`` Salla
  calls needed, the last one cannot start before ``max(0, C - plan) / (plan / 60)`` seconds, and the
  order it belongs to still needs that call and its Enerpize calls after it (``tail`` calls, each
  taking ``latency``).
* **latency**: the order with the longest chain of calls that depend on each other (search ->
  order -> invoices -> invoice -> lookup -> create -> read, per document) takes
  ``chain * latency`` even with nothing else running.
* **slack**: the results are posted in the thread at Slack's pace of about one message a second per
  channel, so ``messages - 1`` seconds after the first one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LowerBound:
    rate: float
    latency: float
    slack: float

    @property
    def seconds(self) -> float:
        return max(self.rate, self.latency) + self.slack


def lower_bound(*, salla_calls: int, plan_per_minute: int, latency: float, longest_chain: int,
                tail_calls: int, slack_messages: int = 0) -> LowerBound:
    refill = plan_per_minute / 60.0
    waiting = max(0, salla_calls - plan_per_minute) / refill
    return LowerBound(rate=waiting + (1 + tail_calls) * latency, latency=longest_chain * latency,
                      slack=max(0, slack_messages - 1) * 1.0)
