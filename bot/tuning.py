"""Timing knobs of the Slack surface. Production defaults; tests shrink them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tuning:
    # The progress message: first update after ``progress_interval`` s, each next one waits
    # ``progress_backoff`` times longer, and a run never spends more than ``max_progress_updates``
    # chat.update calls on progress (a 100-order run stays within ~15 Slack calls in all).
    progress_interval: float = 2.0
    progress_backoff: float = 1.6
    max_progress_updates: int = 7
    # About one message a second per channel (Slack's chat.postMessage guidance).
    channel_pace: float = 1.0
    # How many 429s the client itself waits out, and how long a message may keep waiting after that.
    rate_limit_retries: int = 8
    rate_limit_jitter: float = 1.0
    rate_limit_patience: float = 900.0
    # While Slack is down (5xx, unreachable, rate limits past the patience above), a finished run's
    # results wait in the database: posting them is tried again after this, then twice as long
    # each time, at most ``report_retry_max`` apart (and at most a lease apart), for as long as it takes.
    report_retry_initial: float = 1.0
    report_retry_max: float = 30.0
    # A run that stops early (another process executes it, shutdown) still waits this long for its
    # thread's first messages to be posted and recorded, so a resume does not post them twice.
    open_grace: float = 10.0
    # Entries shown in the App Home log (two blocks each; a Home view holds at most 100 blocks).
    home_log_limit: int = 40


FAST = Tuning(progress_interval=0.05, progress_backoff=1.3, channel_pace=0.0, rate_limit_jitter=0.05,
              rate_limit_patience=30.0, report_retry_initial=0.05, report_retry_max=1.0)
"""For tests and the demo: no waiting between messages, progress every 50 ms or so."""
