"""Decimal money for the simulators: parse, round half away from zero, write as JSON.

The sandbox keeps its own few lines instead of importing the project's helpers, so a bug in
the code under test cannot hide itself by also being in the simulator.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0")


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def dec(value: Any) -> Decimal:
    """A Decimal from a Decimal, int, numeric string or JSON float (read by its shortest repr)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return result


def as_string(value: Decimal) -> str:
    """``"125.00"``: how Salla usually sends amounts."""
    return str(cents(value))


def as_number(value: Decimal) -> int | float:
    """``310.5`` or ``150``: a JSON number, how Salla sends ``total.amount``.

    Only the *written form* is a float; its shortest repr is the exact cent value.
    """
    value = cents(value)
    if value == value.to_integral_value():
        return int(value)
    return float(str(value))
