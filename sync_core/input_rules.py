"""The one rule set for order numbers typed by a person (modal, CLI, App Home).

Errors come back all at once, as data, so a modal can show every broken line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_NUMBERS = 100

# Arabic-Indic (U+0660..), Persian/Extended Arabic-Indic (U+06F0..) and full-width (U+FF10..) digits.
_DIGITS = {}
for _base in (0x0660, 0x06F0, 0xFF10):
    for _i in range(10):
        _DIGITS[chr(_base + _i)] = str(_i)
_TRANSLATE = str.maketrans(_DIGITS)
# Marks that ride along when text is copied from Arabic documents or spreadsheets.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u00a0"), " ")
_SEPARATORS = re.compile(r"[,;،؛]")


@dataclass(frozen=True)
class ParsedNumbers:
    """Result of reading the input: the distinct numbers in order, or the reasons it was refused."""

    numbers: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_text(self) -> str:
        return "\n".join(self.errors)


def _quote(text: str, limit: int = 40) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return f'"{shown}"'


_NUMBER_IN_TEXT = re.compile(r"#?(\d+)")  # \d: the digits of every script


def numbers_in_text(text: str | None, *, most: int = MAX_NUMBERS) -> tuple[list[str], int]:
    """The order numbers a message mentions (``#1001``, "order 1002 is late", Arabic-Indic digits),
    normalised like typed ones and each once, in order: the first ``most``, and how many more."""
    found: dict[str, None] = {}
    for match in _NUMBER_IN_TEXT.finditer(text or ""):
        digits = "".join(str(unicodedata.decimal(c)) for c in match.group(1))
        if len(digits) <= 18 and int(digits) > 0:
            found.setdefault(str(int(digits)), None)
    numbers = list(found)
    return numbers[:most], max(0, len(numbers) - most)


def parse_order_numbers(text: str | None, *, max_numbers: int = MAX_NUMBERS) -> ParsedNumbers:
    """Read one order/reference number a line.

    Blank lines and surrounding spaces are ignored, a leading ``#`` is dropped, Arabic-Indic,
    Persian and full-width digits are digits, leading zeros are dropped, repeats are kept once.
    """
    if text is None or not text.strip():
        return ParsedNumbers(errors=["Enter at least one order or reference number."])
    numbers: list[str] = []
    seen: set[str] = set()
    errors: list[str] = []
    given = 0
    for index, raw in enumerate(text.splitlines(), start=1):
        line = raw.translate(_INVISIBLE).strip()
        if not line:
            continue
        given += 1
        shown = _quote(raw.strip())
        normal = unicodedata.normalize("NFKC", line.translate(_TRANSLATE))
        if _SEPARATORS.search(normal):
            errors.append(f"Line {index} {shown}: one number per line, no commas")
            continue
        if normal.startswith("#"):
            normal = normal[1:].lstrip()
        if re.fullmatch(r"\d+(\s+\d+)+", normal):
            errors.append(f"Line {index} {shown}: one number per line, no spaces inside a number")
            continue
        if not re.fullmatch(r"[0-9]+", normal):
            errors.append(f"Line {index} {shown}: not an order number (digits only)")
            continue
        number = str(int(normal))
        if len(number) > 19:
            errors.append(f"Line {index} {shown}: too long to be an order number")
            continue
        if number not in seen:
            seen.add(number)
            numbers.append(number)
    if given > max_numbers:
        errors.insert(0, f"{given} numbers were given; {max_numbers} is the most in one sync.")
    if errors:
        return ParsedNumbers(errors=errors)
    return ParsedNumbers(numbers=numbers)
