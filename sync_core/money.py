"""Money is Decimal end to end, rounded to the cent half away from zero."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half away from zero (never float ``round``)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_amount(value: Any) -> Decimal:
    """Read an amount that Salla may send as a number, a string, or a Money object.

    Floats go through ``str`` so that 310.5 becomes Decimal("310.5"), not its binary expansion.
    """
    if isinstance(value, dict):
        value = value.get("amount")
    if value is None or value == "":
        return ZERO
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount


def fmt(value: Decimal) -> str:
    """Two decimals, the way finance staff read it: 310.50."""
    return str(cents(value))
