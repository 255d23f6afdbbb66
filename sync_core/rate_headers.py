"""What an answer's rate-limit headers say, read defensively.

Salla documents ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` ("UTC epoch
seconds" when the window resets; one public client reads it as seconds from now) and ``Retry-After``
on a 429. Enerpize sends none. A header that is missing or not a number is treated as absent: a
broken header must never stall the sync nor crash it.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

# A Reset under this is a delay in seconds, above it an epoch (10^9 s is September 2001).
EPOCH_THRESHOLD = 1e9
# A reset or Retry-After further away than this is taken for a misread header (an epoch in
# milliseconds, say), not for an order to wait that long.
LONGEST_WAIT = 3600.0


@dataclass(frozen=True)
class RateHeaders:
    limit: int | None
    remaining: int | None
    reset_in: float | None  # seconds from now until the budget is whole again
    retry_after: float | None  # seconds


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _count(value: str | None) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number >= 0 else None


def reset_delay(value: str | None, *, wall: float) -> float | None:
    """Seconds until ``X-RateLimit-Reset``: an epoch, or a delay when under 10^9; None if unusable."""
    number = _number(value)
    if number is None:
        return None
    delay = number - wall if number >= EPOCH_THRESHOLD else number
    if delay > LONGEST_WAIT:
        return None
    return max(0.0, delay)


def retry_after_value(value: str | None, *, wall: float) -> float | None:
    """Seconds a ``Retry-After`` asks for (a number or an HTTP date); None if absent or unusable."""
    if not value:
        return None
    number = _number(value)
    if number is None:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        number = parsed.timestamp() - wall
    return min(max(0.0, number), LONGEST_WAIT)


def read_rate_headers(headers: Mapping[str, str], *, wall: float) -> RateHeaders:
    return RateHeaders(
        limit=_count(headers.get("X-RateLimit-Limit")),
        remaining=_count(headers.get("X-RateLimit-Remaining")),
        reset_in=reset_delay(headers.get("X-RateLimit-Reset"), wall=wall),
        retry_after=retry_after_value(headers.get("Retry-After"), wall=wall),
    )


def retry_after_seconds(response: httpx.Response) -> float | None:
    return retry_after_value(response.headers.get("Retry-After"), wall=time.time())
